/**
 * The handler module `wsthreads serve` gives its server: it wraps the real handler (echo, chat or
 * the user's --handler module, named by the `inner` query of this module's URL) to count
 * connections, messages, bytes, close codes and errors for the status page, and serves the
 * page's live feed on STATS_PATH; with `verbose=1` it logs each connection coming and going.
 *
 *   instrumented.ts?inner=<handler module URL>&stats=<BroadcastChannel name>[&verbose=1]
 *
 * Counting wraps the socket's send methods on the instance, so the inner handler sees the full
 * WebSocket API unchanged.
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { SocketError, type WebSocketError } from '../shared/engine/errors.ts';
import type { SendOptions, WebSocket } from '../shared/connection/websocket.ts';
import type { ConnectionHandler, HandlerContext } from '../shared/connection/handler-host.ts';
import { idleWorkerStats, STATS_INTERVAL_MS, STATS_PATH } from './serve-stats.ts';
import type { PubSubSummary, ServeRoster, ServeStatsSnapshot, WorkerStats } from './serve-stats.ts';

const params = new URL(import.meta.url).searchParams;
const innerUrl = params.get('inner');
const statsChannelName = params.get('stats') ?? 'wsthreads-serve-stats';
const verbose = params.get('verbose') === '1';
if (innerUrl === null) throw new TypeError(`${import.meta.url}: the inner handler module is missing (?inner=<url>)`);

const innerModule = (await import(innerUrl)) as Record<string, unknown>;
const inner = (innerModule.default ?? innerModule.handleConnection) as ConnectionHandler;
if (typeof inner !== 'function') {
  throw new TypeError(`Handler module ${innerUrl} must export a function (default export or handleConnection)`);
}

const sockets = new Set<WebSocket>();
const counts = { connectionsTotal: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, errors: 0, idleTimeouts: 0, frameTimeouts: 0 };
const closeCodes: Record<string, number> = {};
let loopBefore = performance.eventLoopUtilization();

function countError(error: WebSocketError): void {
  counts.errors++;
  if (error.kind === SocketError.IdleTimeout) counts.idleTimeouts++;
  else if (error.kind === SocketError.FrameTimeout) counts.frameTimeouts++;
}

function sample(): WorkerStats {
  let bytesQueued = 0;
  for (const socket of sockets) bytesQueued += socket.bytesToWrite();
  const loopNow = performance.eventLoopUtilization();
  const eventLoopUtilization = performance.eventLoopUtilization(loopNow, loopBefore).utilization;
  loopBefore = loopNow;
  return {
    type: 'worker', threadId, connections: sockets.size, ...counts, bytesQueued, eventLoopUtilization,
    heapUsed: getHeapStatistics().used_heap_size, closeCodes: { ...closeCodes }, at: Date.now(),
  };
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
  let roster: ServeRoster | undefined;
  let pubsub: PubSubSummary | undefined;
  const listener = new BroadcastChannel(statsChannelName);
  listener.onmessage = (event) => {
    const message = (event as { data: WorkerStats | ServeRoster | PubSubSummary }).data;
    if (message.type === 'roster') roster = message;
    else if (message.type === 'pubsub') pubsub = message;
    else latest.set(message.threadId, message);
  };
  const send = (): void => {
    // This thread's own reports go out on another channel object, which a listener does not hear.
    const at = Date.now();
    latest.set(threadId, sample());
    // Threads that have not served yet have never reported: the owner's roster names them.
    for (const id of roster?.threadIds ?? []) if (!latest.has(id)) latest.set(id, idleWorkerStats(id, at));
    const workers = [...latest.values()].sort((a, b) => a.threadId - b.threadId);
    const snapshot: ServeStatsSnapshot = { type: 'stats', at, startedAt: roster?.startedAt ?? at, rss: roster?.rss ?? 0, workers, pubsub };
    socket.sendTextMessage(JSON.stringify(snapshot));
  };
  const timer = setInterval(send, 1000);
  send();
  socket.on('disconnected', () => {
    clearInterval(timer);
    listener.close();
  });
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export default function instrumented(socket: WebSocket, context: HandlerContext): void | Promise<void> {
  startReporting();
  if (socket.resourceName().split('?')[0] === STATS_PATH) {
    serveStatsFeed(socket);
    return;
  }
  sockets.add(socket);
  counts.connectionsTotal++;
  const peer = `${socket.peerAddress()}:${socket.peerPort()}`;
  if (verbose) log(`connected    ${peer} on worker ${threadId} ${socket.resourceName()}`);
  socket.on('textMessageReceived', (text) => {
    counts.messagesIn++;
    counts.bytesIn += Buffer.byteLength(text);
  });
  socket.on('binaryMessageReceived', (data) => {
    counts.messagesIn++;
    counts.bytesIn += data.length;
  });
  socket.on('errorOccurred', (error) => {
    countError(error);
    if (verbose) log(`error        ${peer} on worker ${threadId}: ${error.message}`);
  });
  socket.on('disconnected', () => {
    sockets.delete(socket);
    const code = socket.closeCode();
    closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    const reason = socket.closeReason();
    if (verbose) log(`disconnected ${peer} on worker ${threadId}, close code ${code}${reason === '' ? '' : ` (${reason})`}`);
  });
  const sendText = socket.sendTextMessage.bind(socket);
  const sendBinary = socket.sendBinaryMessage.bind(socket);
  // The options go through: a handler's `compress: false` or `copy: false` still applies.
  socket.sendTextMessage = (message: string, options?: SendOptions): number => {
    counts.messagesOut++;
    const bytes = sendText(message, options);
    counts.bytesOut += bytes;
    return bytes;
  };
  socket.sendBinaryMessage = (data: Uint8Array | ArrayBuffer, options?: SendOptions): number => {
    counts.messagesOut++;
    const bytes = sendBinary(data, options);
    counts.bytesOut += bytes;
    return bytes;
  };
  return inner(socket, context);
}
