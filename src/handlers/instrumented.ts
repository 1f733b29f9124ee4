/**
 * The handler module `wsthreads serve` gives its server: it wraps the real handler (echo, chat or
 * the user's --handler module, named by the `inner` query of this module's URL) to count
 * connections and messages for the status page, and serves the page's live feed on STATS_PATH.
 *
 *   instrumented.ts?inner=<handler module URL>&stats=<BroadcastChannel name>
 *
 * Counting wraps the socket's send methods on the instance, so the inner handler sees the full
 * WebSocket API unchanged.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { SocketError, type WebSocketError } from '../shared/engine/errors.ts';
import type { WebSocket } from '../shared/connection/websocket.ts';
import type { ConnectionHandler, HandlerContext } from '../shared/connection/handler-host.ts';
import { STATS_INTERVAL_MS, STATS_PATH } from './serve-stats.ts';
import type { PubSubSummary, ServeStatsSnapshot, WorkerStats } from './serve-stats.ts';

const params = new URL(import.meta.url).searchParams;
const innerUrl = params.get('inner');
const statsChannelName = params.get('stats') ?? 'wsthreads-serve-stats';
if (innerUrl === null) throw new TypeError(`${import.meta.url}: the inner handler module is missing (?inner=<url>)`);

const innerModule = (await import(innerUrl)) as Record<string, unknown>;
const inner = (innerModule.default ?? innerModule.handleConnection) as ConnectionHandler;
if (typeof inner !== 'function') {
  throw new TypeError(`Handler module ${innerUrl} must export a function (default export or handleConnection)`);
}

const sockets = new Set<WebSocket>();
const counts = { messagesIn: 0, messagesOut: 0, idleTimeouts: 0, frameTimeouts: 0 };

function countTimeout(error: WebSocketError): void {
  if (error.kind === SocketError.IdleTimeout) counts.idleTimeouts++;
  else if (error.kind === SocketError.FrameTimeout) counts.frameTimeouts++;
}

function sample(): WorkerStats {
  let bytesQueued = 0;
  for (const socket of sockets) bytesQueued += socket.bytesToWrite();
  return { threadId, connections: sockets.size, ...counts, bytesQueued, at: Date.now() };
}

let reporter: BroadcastChannel | undefined;

/** Starts this thread's reports on its first connection; they never keep the thread alive. */
function startReporting(): void {
  if (reporter !== undefined) return;
  const channel = new BroadcastChannel(statsChannelName);
  channel.unref();
  reporter = channel;
  setInterval(() => channel.postMessage(sample()), STATS_INTERVAL_MS).unref();
  channel.postMessage(sample());
}

/** A status-page connection: gets every worker's latest figures once a second. */
function serveStatsFeed(socket: WebSocket): void {
  const latest = new Map<number, WorkerStats>();
  let pubsub: PubSubSummary | undefined;
  const listener = new BroadcastChannel(statsChannelName);
  listener.onmessage = (event) => {
    const data = (event as { data: WorkerStats | PubSubSummary }).data;
    if ('type' in data) pubsub = data;
    else latest.set(data.threadId, data);
  };
  const send = (): void => {
    // This thread's own reports go out on another channel object, which a listener does not hear.
    latest.set(threadId, sample());
    const snapshot: ServeStatsSnapshot = { type: 'stats', at: Date.now(), workers: [...latest.values()].sort((a, b) => a.threadId - b.threadId), pubsub };
    socket.sendTextMessage(JSON.stringify(snapshot));
  };
  const timer = setInterval(send, 1000);
  send();
  socket.on('disconnected', () => {
    clearInterval(timer);
    listener.close();
  });
}

export default function instrumented(socket: WebSocket, context: HandlerContext): void | Promise<void> {
  startReporting();
  if (socket.resourceName().split('?')[0] === STATS_PATH) {
    serveStatsFeed(socket);
    return;
  }
  sockets.add(socket);
  socket.on('textMessageReceived', () => counts.messagesIn++);
  socket.on('binaryMessageReceived', () => counts.messagesIn++);
  socket.on('disconnected', () => sockets.delete(socket));
  socket.on('errorOccurred', countTimeout);
  const sendText = socket.sendTextMessage.bind(socket);
  const sendBinary = socket.sendBinaryMessage.bind(socket);
  socket.sendTextMessage = (message: string): number => {
    counts.messagesOut++;
    return sendText(message);
  };
  socket.sendBinaryMessage = (data: Uint8Array | ArrayBuffer): number => {
    counts.messagesOut++;
    return sendBinary(data);
  };
  return inner(socket, context);
}
