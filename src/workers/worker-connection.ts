/**
 * One socket the owner moved into this thread, from its opening handshake to its end: the
 * handshake runs here, asking the owner over the thread link (no port of its own); then the
 * engine runs on the socket and either mirrors every signal to the owner-side `WebSocket` or
 * gives a worker-local `WebSocket` to the user's handler module (the owner then sees only the
 * lifecycle).
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { threadId, workerData } from 'node:worker_threads';
import { serveWithHandler } from '../shared/connection/handler-host.ts';
import { nodeTls } from '../shared/connection/node-tls.ts';
import { createServerBackend, serverConnectionInfo } from '../shared/connection/server-connection.ts';
import { startServerHandshake, type UpgradedConnection } from '../shared/connection/server-handshake.ts';
import type { ConnectionSettings, PoolWorkerData } from '../shared/wire/thread-messages.ts';
import { LocalMembership } from '../shared/pubsub/topic-membership.ts';
import { CommandReceiver, PauseReason } from './command-receiver.ts';
import { CountedConnection } from './counted-connection.ts';
import { SignalForwarder } from './signal-forwarder.ts';
import type { ThreadChannel } from './thread-channel.ts';

const poolData = workerData as PoolWorkerData;
let secureContext: { generation: number; context: SecureContext } | undefined;

/**
 * One SecureContext per thread (building it parses the key and certificate), from `workerData`
 * at first and anew when sockets arrive with a newer TLS configuration (`setSslConfiguration`
 * at run time); connections already in TLS keep the context they started with.
 */
function threadSecureContext(settings: ConnectionSettings): SecureContext | undefined {
  if (poolData.tls === undefined) return undefined;
  const tls = settings.tls;
  if (tls !== undefined && tls.generation > (secureContext?.generation ?? 0)) {
    secureContext = { generation: tls.generation, context: nodeTls().createSecureContext(tls.tls) };
  }
  secureContext ??= { generation: 0, context: nodeTls().createSecureContext(poolData.tls) };
  return secureContext.context;
}

/** The handshake runs here, asking the owner over `channel`, which hears its end (see serveUpgraded). */
export function serveConnection(socket: Socket, connectionId: number, settings: ConnectionSettings, channel: ThreadChannel): void {
  startServerHandshake(channel, connectionId, socket, settings, threadSecureContext(settings));
}

/**
 * The connection set running once its 101 is written. Nothing waits here for its end: the
 * channel lets go of it once the owner has its `disconnected` (ThreadChannel.over), so the
 * handshake's request, summary and first read go with this frame.
 */
export function serveUpgraded(upgraded: UpgradedConnection, connectionId: number, settings: ConnectionSettings, channel: ThreadChannel): void {
  const backend = createServerBackend(upgraded, settings);
  const info = serverConnectionInfo(upgraded);
  const standing = settings.standing;
  const handlerUrl = poolData.handlerUrl;
  // Served by the handler, observed by nobody on the owner: the owner only counts it (see
  // counted-connection.ts).
  if (handlerUrl !== undefined && standing !== null && !standing.observed) {
    const counted = new CountedConnection(backend, connectionId, channel.topics, channel);
    channel.countedOpened(counted, connectionId);
    backend.observeLifecycle(counted);
    serveWithHandler(backend, info, handlerUrl, upgraded.decision.limits, counted);
    return;
  }
  const receiver = new CommandReceiver(connectionId, channel.topics);
  const forwarder = new SignalForwarder(connectionId, receiver, channel, handlerUrl !== undefined);
  channel.register(forwarder);
  try {
    // The owner has the request (and what it attached) from the decision: they cross the threads
    // once, and only the extensions agreed here follow. Taken by the standing acceptance, the
    // owner has had none of it yet.
    forwarder.connected(standing === null ? { extensions: info.extensions } : info);
    if (handlerUrl === undefined) {
      // Mirror mode: nothing is read until the owner takes the connection (see PauseReason),
      // and a Pong or bytesWritten crosses only once the owner's socket has a listener for it
      // (a backend starts with no optional signals).
      receiver.setPaused(PauseReason.Pending, true);
      backend.attach(forwarder);
    } else {
      // The owner sees this connection's lifecycle only; the handler here sees all of it.
      backend.observeLifecycle(forwarder);
      serveWithHandler(backend, info, handlerUrl, upgraded.decision.limits, {
        failed: (error) => forwarder.error(error),
        topics: new LocalMembership(channel.topics, connectionId, backend),
      });
    }
    receiver.bind(backend);
  } catch (error) {
    channel.release(forwarder);
    throw error;
  }
}
