/**
 * `wsthreads serve`: a WebSocket server on every core. The built-in echo (default) or chat, or the
 * user's --handler module, runs in every worker thread (wrapped by src/handlers/instrumented.ts to
 * count for the status page), and a plain HTTP GET on the same port gets the status page.
 *
 * First line on stdout: `wsthreads listening on ws://HOST:PORT (N workers)`. SIGINT and SIGTERM
 * close every connection with 1001 and exit 0 within SHUTDOWN_BOUND_MS.
 */
import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Option } from 'commander';
import type { Command } from 'commander';
import { ServerDefaults, WebSocketServer } from '../main/websocket-server.ts';
import { handlerLoadFailure } from '../main/handler-preflight.ts';
import { CloseCode } from '../shared/engine/close-code.ts';
import { SecureMode } from '../shared/engine/state.ts';
import { STATS_INTERVAL_MS, type PubSubSummary, type ServeRoster } from '../handlers/serve-stats.ts';
import { pageResponse, renderServePage } from './serve-page.ts';
import type { ServePageConfig } from './serve-page.ts';
import { collect, deflateMode, nonNegativeInteger, portNumber, positiveByteSize, positiveInteger } from './option-values.ts';

/** Connections get this long to finish their closing handshakes before the process exits anyway. */
export const SHUTDOWN_BOUND_MS = 3000;

/** The status page lists this many topics at most (those with the most subscribers). */
const MaxTopicsShown = 50;

/** Same extension as this module: .ts when run from source, .js from dist. */
const extension = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
const handlerModule = (name: string): URL => new URL(`../handlers/${name}${extension}`, import.meta.url);

export interface ServeCommandOptions {
  host: string;
  port: number;
  workers?: number;
  /** Worker threads started at once (the server's minWorkers); the rest start as connections arrive. */
  minWorkers?: number;
  handler?: string;
  echo?: boolean;
  chat?: boolean;
  subprotocol?: string[];
  maxMessageSize?: number;
  origin?: string[];
  /** Liveness timeouts in ms (the server's defaults when absent; 0 disables). */
  idleTimeout?: number;
  pongTimeout?: number;
  frameTimeout?: number;
  /** Ms output may wait to share a write with what follows (the server's writeDelay; default 0). */
  writeDelay?: number;
  /** false with --no-page: no status page; plain HTTP requests are refused (400). */
  page: boolean;
  /** --deflate alone: true (shared mode); --deflate=MODE: that mode. */
  deflate?: true | ReturnType<typeof deflateMode>;
  /** A Redis URL: topics (the chat's rooms) span every server on that Redis. */
  redis?: string;
  /** Log every connection coming and going (address, worker, close code) on stdout. */
  verbose?: boolean;
}

export interface ServeIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface RunningServe {
  url: string;
  workers: number;
  /** Closes every connection with 1001 and stops; resolves when done (bounded). */
  shutdown(): Promise<void>;
}

function hostForUrl(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/**
 * The origins a browser may connect from: those given with --origin plus the status page's own
 * (it is served from this port). Requests without an Origin header come from programs, not
 * browsers, and are let through: an origin check protects browser users, nothing else.
 */
export function originPolicy(allowed: string[] | undefined, host: string, port: number): ((origin: string) => boolean) | undefined {
  if (allowed === undefined || allowed.length === 0) return undefined;
  const origins = new Set(allowed);
  origins.add(`http://${hostForUrl(host)}:${port}`);
  if (host === '127.0.0.1' || host === '::1' || host === 'localhost') {
    origins.add(`http://localhost:${port}`);
    origins.add(`http://127.0.0.1:${port}`);
    origins.add(`http://[::1]:${port}`);
  }
  return (origin) => origin === '' || origins.has(origin);
}

/**
 * The owner's part of the status page: which pool threads exist (a thread that has not served
 * yet has never reported) and the process's memory, on the workers' stats channel.
 */
function postRoster(server: WebSocketServer, channelName: string): () => void {
  const channel = new BroadcastChannel(channelName);
  channel.unref();
  const startedAt = Date.now();
  const post = (): void => {
    const roster: ServeRoster = { type: 'roster', threadIds: [...server.workerConnectionCounts().keys()], startedAt, rss: process.memoryUsage.rss(), at: Date.now() };
    channel.postMessage(roster);
  };
  const timer = setInterval(post, STATS_INTERVAL_MS);
  timer.unref();
  post();
  return () => {
    clearInterval(timer);
    channel.close();
  };
}

export async function startServe(o: ServeCommandOptions, io: ServeIo = process): Promise<RunningServe> {
  const mode: ServePageConfig['mode'] = o.handler !== undefined ? 'handler' : o.chat === true ? 'chat' : 'echo';
  const instance = `${process.pid}-${randomBytes(4).toString('hex')}`;
  let inner: string;
  if (mode === 'handler') inner = /^[a-z][a-z0-9+.-]*:/i.test(o.handler!) && !/^[a-z]:[\\/]/i.test(o.handler!) ? o.handler! : pathToFileURL(resolve(o.handler!)).href;
  else if (mode === 'chat') inner = handlerModule('chat').href;
  else inner = handlerModule('echo').href;
  if (mode === 'handler') {
    // Checked apart from the instrumented wrapper around it, so that the error names the user's module.
    const failure = await handlerLoadFailure(inner);
    if (failure !== undefined) throw new Error(`cannot load the handler module ${o.handler}: ${failure}`);
  }
  const handler = new URL(handlerModule('instrumented').href);
  handler.searchParams.set('inner', inner);
  const statsChannelName = `wsthreads-serve-stats-${instance}`;
  handler.searchParams.set('stats', statsChannelName);
  if (o.verbose === true) handler.searchParams.set('verbose', '1');

  const server = new WebSocketServer('wsthreads', SecureMode.NonSecure, {
    workers: o.workers,
    minWorkers: o.minWorkers,
    handler,
    supportedSubprotocols: o.subprotocol ?? [],
    idleTimeout: o.idleTimeout,
    pongTimeout: o.pongTimeout,
    frameTimeout: o.frameTimeout,
    writeDelay: o.writeDelay,
    perMessageDeflate: o.deflate ?? false,
    ...(o.maxMessageSize === undefined
      ? {}
      : { maxAllowedIncomingMessageSize: o.maxMessageSize, maxAllowedIncomingFrameSize: o.maxMessageSize }),
    ...(o.redis === undefined ? {} : { pubsub: { redis: o.redis } }),
  });
  server.on('pubsubStateChanged', (state, error) => {
    io.stderr.write(`wsthreads serve: redis ${state}${error === undefined ? '' : ` (${error.message})`}\n`);
  });

  if (o.page) {
    // The page is served on the WebSocket server's own port: a GET without Upgrade: websocket is
    // answered by this function on this thread, written by the worker thread holding the socket.
    const page = renderServePage({ mode, workers: server.workerCount(), minWorkers: server.minWorkers(), subprotocols: o.subprotocol ?? [] });
    server.setHttpRequestHandler((request) => pageResponse(request.method, request.path, page));
  }
  if (!(await server.listen(o.host, o.port))) {
    await server.destroy();
    throw new Error(`cannot listen on ${o.host}:${o.port}: ${server.errorString()}`);
  }
  const port = server.serverPort();

  const allowOrigin = originPolicy(o.origin, o.host, port);
  if (allowOrigin !== undefined) {
    server.on('originAuthenticationRequired', (authenticator) => authenticator.setAllowed(allowOrigin(authenticator.origin())));
  }
  server.on('serverError', (code, error) => io.stderr.write(`wsthreads serve: server error ${code}: ${error.message}\n`));
  const stopRoster = postRoster(server, statsChannelName);

  const url = `ws://${hostForUrl(o.host)}:${port}`;
  const topicsReport = reportTopics(server, statsChannelName);
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      topicsReport.stop();
      stopRoster();
      server.close();
      const bound = new Promise<void>((done) => setTimeout(done, SHUTDOWN_BOUND_MS).unref());
      await Promise.race([server.closeAllConnections(CloseCode.GoingAway, 'Server shutting down', SHUTDOWN_BOUND_MS - 500), bound]);
      await Promise.race([server.destroy(), bound]);
    })();
    return stopping;
  };
  return { url, workers: server.workerCount(), shutdown };
}

/** Posts the server's topics and Redis state for the status page, on the workers' stats channel. */
function reportTopics(server: WebSocketServer, channelName: string): { stop(): void } {
  const channel = new BroadcastChannel(channelName);
  channel.unref();
  const post = (): void => {
    const stats = server.pubsubStats();
    const topics = [...server.subscriberCounts()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MaxTopicsShown);
    const summary: PubSubSummary = { type: 'pubsub', state: stats.state, topics, framesBuilt: stats.framesBuilt, deliveries: stats.deliveries };
    channel.postMessage(summary);
  };
  const timer = setInterval(post, STATS_INTERVAL_MS).unref();
  server.on('pubsubStateChanged', post);
  return {
    stop: () => {
      clearInterval(timer);
      server.off('pubsubStateChanged', post);
      channel.close();
    },
  };
}

export async function runServeCommand(o: ServeCommandOptions, io: ServeIo = process): Promise<number> {
  let running: RunningServe;
  try {
    running = await startServe(o, io);
  } catch (error) {
    io.stderr.write(`wsthreads serve: ${(error as Error).message}\n`);
    return 1;
  }
  const stop = async (signal: string): Promise<void> => {
    io.stderr.write(`wsthreads serve: ${signal}: closing every connection (1001)\n`);
    await running.shutdown();
    process.exit(0);
  };
  // Before the first line: whoever reads it may signal at once.
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  io.stdout.write(`wsthreads listening on ${running.url} (${running.workers} workers)\n`);
  if (o.page) io.stdout.write(`status page: ${running.url.replace(/^ws:/, 'http:')}/\n`);
  return 0;
}

/** Adds `serve` to a commander program. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run a WebSocket server on every core: echo (default), chat, or your handler module; status page on GET /')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks one)', portNumber, 8080)
    .option('--workers <n>', 'worker threads at most (default: one per core; 0 serves on the main thread)', nonNegativeInteger)
    .option('--min-workers <n>', 'worker threads started at once; the others start as connections arrive', positiveInteger, ServerDefaults.minWorkers)
    .addOption(new Option('--handler <module>', 'a module run in every worker that receives each connection').conflicts(['echo', 'chat']))
    .addOption(new Option('--echo', 'send every message back to its sender (default)').conflicts('chat'))
    .option('--chat', 'a chat room per URL path: every message goes to everyone in the room, on every worker')
    .option('--redis <url>', 'share topics (the chat rooms) with every server on this Redis, e.g. redis://127.0.0.1:6379')
    .option('--subprotocol <name>', 'a subprotocol the server accepts (repeatable)', collect)
    .option('--max-message-size <bytes>', 'largest message accepted (64, 4k, 1m); larger closes with 1009', positiveByteSize)
    .option('--origin <origin>', 'an Origin browsers may connect from (repeatable); default: any', collect)
    .option('--idle-timeout <ms>', 'ping a client silent this long (0: never)', nonNegativeInteger, ServerDefaults.idleTimeoutMs)
    .option('--pong-timeout <ms>', 'drop a pinged client that sends nothing for this long (1001; 0: never)', nonNegativeInteger, ServerDefaults.pongTimeoutMs)
    .option('--frame-timeout <ms>', 'close a connection whose frame stops arriving this long (1001; 0: never)', nonNegativeInteger, ServerDefaults.frameTimeoutMs)
    .option('--write-delay <ms>', 'let output wait up to this long to share one write (fewer system calls for a broadcast, that much more latency; at most 1000)', nonNegativeInteger, ServerDefaults.writeDelayMs)
    .option('--no-page', 'no status page: plain HTTP requests on the port are refused (400)')
    .option('--deflate [mode]', 'permessage-deflate: shared (the default: no zlib state per connection), dedicated or dedicated:BITS (a window per connection)', deflateMode)
    .option('--verbose', 'log every connection coming and going: address, worker, close code')
    .action(async (options: ServeCommandOptions) => {
      const code = await runServeCommand(options);
      if (code !== 0) process.exitCode = code;
    });
}
