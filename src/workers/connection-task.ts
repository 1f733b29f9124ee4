/**
 * src/workers: pool threads only. This file is the Piscina entry; beside it: the worker end of
 * the thread link (thread-channel.ts), one connection's signal writer (signal-forwarder.ts) and
 * command receiver (command-receiver.ts).
 *
 * The Piscina task of one connection, alive as long as the connection is (so Piscina's
 * least-busy balancing spreads live connections over the threads). It adopts the transferred
 * socket and runs the opening handshake, asking the owner for the decision over the connection's
 * own port; then it runs the engine on the socket and either mirrors every signal to the
 * owner-side `WebSocket` or gives a worker-local `WebSocket` to the user's handler module (the
 * owner then sees only lifecycle), over the thread's link to the owner.
 *
 * The task resolves only after the owner has received the connection's last signal, so the
 * owner never sees the task end before the `disconnected` it must emit.
 */
import { threadId, workerData } from 'node:worker_threads';
import { createSecureContext, type SecureContext } from 'node:tls';
import * as Comlink from 'comlink';
import { portEndpoint } from '../shared/wire/comlink-port.ts';
import type { ConnectionTask, OwnerConnectionApi, PoolWorkerData } from '../shared/wire/thread-messages.ts';
import { CommandReceiver } from './command-receiver.ts';
import { serveWithHandler } from '../shared/connection/handler-host.ts';
import { createServerBackend, serverConnectionInfo } from '../shared/connection/server-connection.ts';
import { runServerHandshake } from '../shared/connection/server-handshake.ts';
import { SignalForwarder } from './signal-forwarder.ts';
import { threadChannel, type ThreadChannel } from './thread-channel.ts';

const poolData = workerData as PoolWorkerData;
let secureContext: SecureContext | undefined;

/** One SecureContext per thread: building it parses the key and certificate. */
function threadSecureContext(): SecureContext | undefined {
  if (poolData.tls === undefined) return undefined;
  secureContext ??= createSecureContext(poolData.tls);
  return secureContext;
}

export default async function runConnection(task: ConnectionTask): Promise<void> {
  const { port, connectionId, settings } = task;
  // Referenced until the handshake is over, then released explicitly: a collected proxy can
  // leave a call hanging (comlink issue 692).
  const owner = Comlink.wrap<OwnerConnectionApi>(portEndpoint(port));
  const endHandshakeChannel = (): void => {
    owner[Comlink.releaseProxy]();
    port.close();
  };

  let failureReported: Promise<unknown> | undefined;
  const upgraded = await runServerHandshake({
    socket: task.socket,
    secureContext: threadSecureContext(),
    settings,
    threadId,
    decide: (summary) => owner.decide(summary),
    failed: (failure) => { failureReported = Promise.resolve(owner.handshakeFailed(failure)); },
    respond: (request) => owner.httpRequest(request),
  });
  if (upgraded === null) {
    // The owner must have the failure before the task ends (that news comes over another port).
    await failureReported;
    endHandshakeChannel();
    return;
  }
  let channel: ThreadChannel;
  try {
    channel = await threadChannel(() => Promise.resolve(owner.threadLink(threadId)));
  } catch (error) {
    upgraded.stream.destroy();
    throw error;
  } finally {
    endHandshakeChannel();
  }

  const backend = createServerBackend(upgraded, settings);
  const info = serverConnectionInfo(upgraded);
  const receiver = new CommandReceiver();
  const forwarder = new SignalForwarder(connectionId, receiver, channel, poolData.handlerUrl !== undefined);
  channel.register(forwarder);
  try {
    forwarder.connected(info);
    if (poolData.handlerUrl === undefined) backend.attach(forwarder);
    else {
      // The owner sees this connection's lifecycle only; the handler here sees all of it.
      backend.observeLifecycle(forwarder);
      serveWithHandler(backend, info, poolData.handlerUrl, upgraded.decision.limits, { failed: (error) => forwarder.error(error) });
    }
    receiver.bind(backend);
    await forwarder.done;
  } finally {
    receiver.release();
    channel.unregister(forwarder);
  }
}
