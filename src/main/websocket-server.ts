/**
 * src/main: the owner thread only. This file is Qt's `QWebSocketServer`; beside it: the pool
 * (pool.ts), the owner end of each thread link (pool-thread-link.ts), the owner's end of one
 * pooled connection and its mirror backend (pool-connection.ts, worker-mirror-backend.ts), and
 * the inline transport for `workers: 0` (inline-transport.ts).
 *
 * Qt's `QWebSocketServer` on a pool of worker threads. The owner thread accepts TCP and decides
 * on upgrades; each connection lives in a pool thread (its socket moved there, TLS, handshake
 * parsing and framing done there), or on the owner thread with `workers: 0`. Either way the
 * application sees Qt's API: `newConnection`, then `nextPendingConnection()` gives a `WebSocket`
 * that mirrors the connection with every signal, in order.
 *
 * With a `handler` module the message handling itself runs in the threads (see
 * `src/shared/connection/handler-host.ts`): each thread gives its connections to the module as worker-local
 * `WebSocket`s, and the owner only gets lifecycle: `newConnection(socket)` with a socket that
 * reports `stateChanged`, `aboutToClose`, `errorOccurred` and `disconnected` (and can still be
 * closed or aborted), and no per-message traffic. In that mode there is no pending queue.
 *
 * Differences from Qt, each on purpose:
 * - `listen()` returns a Promise (binding is asynchronous in Node).
 * - `originAuthenticationRequired` listeners may decide later (`authenticator.defer()`).
 * - A connection waiting in the pending queue reads nothing and emits nothing until
 *   `nextPendingConnection()` hands it out, so no message is lost before anyone listens.
 * - The handshake timeout also covers `handleConnection()` sockets (Qt: none), and TLS.
 * - A full pending queue answers `503 Service Unavailable` (Qt closes silently).
 * - Unsupported versions get `426 Upgrade Required` (RFC 6455 4.4; Qt: 400).
 * - With an `httpRequestHandler`, the port also answers plain HTTP (Qt has no such thing): a
 *   request without `Upgrade: websocket` is answered by the handler, on the owner thread, and
 *   the connection closed after the response; see `setHttpRequestHandler`.
 */
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer, isIPv6, type ListenOptions, type Server, type Socket } from 'node:net';
import type { ResourceLimits } from 'node:worker_threads';
import type { Duplex } from 'node:stream';
import { Server as TlsServer, TLSSocket, createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { CloseCode } from '../shared/engine/close-code.ts';
import { InvalidArgumentError, SocketError, WebSocketError } from '../shared/engine/errors.ts';
import { buildErrorResponse } from '../shared/engine/handshake-response.ts';
import { isFieldValue, isToken } from '../shared/engine/http-headers.ts';
import { checkLimit, Defaults } from '../shared/engine/limits.ts';
import { checkTimeoutMs, type LivenessTimeouts } from '../shared/engine/liveness.ts';
import { DeflateDefaults, resolveDeflateSettings, type DeflateOption, type DeflateSettings } from '../shared/engine/permessage-deflate.ts';
import { Signal } from '../shared/engine/signals.ts';
import { SecureMode } from '../shared/engine/state.ts';
import type {
  ConnectionSettings,
  HandshakeDecision,
  HandshakeFailure,
  HandshakeSummary,
  StandingAcceptance,
  TlsGeneration,
} from '../shared/wire/thread-messages.ts';
import { serveWithHandler } from '../shared/connection/handler-host.ts';
import { chooseSubprotocol } from '../shared/connection/server-handshake.ts';
import { handlerLoadFailure } from './handler-preflight.ts';
import { WebSocketCorsAuthenticator } from './cors-authenticator.ts';
import { DefaultCloseTimeoutMs, EngineSocketBackend } from '../shared/connection/engine-socket-backend.ts';
import type { TopicMembership } from '../shared/pubsub/topic-membership.ts';
import { PeerVerifyMode } from '../shared/connection/peer-certificate.ts';
import {
  checkUpgradeDecision,
  checkUpgradeHandler,
  upgradeRequestOf,
  type CheckedAcceptance,
  type CheckedDecision,
  type UpgradeHandler,
} from './upgrade-handler.ts';
import { buildHttpResponse, type HttpRequest, type HttpRequestHandler } from '../shared/connection/http-response.ts';
import { AcceptGate } from '../shared/connection/accept-gate.ts';
import { ConnectionRegistry } from './connection-registry.ts';
import { InlineTransport } from './inline-transport.ts';
import { claimPort } from './port-claim.ts';
import { ConnectionPool } from './pool.ts';
import type { ThreadTrafficStats } from './pool-thread-link.ts';
import { chooseWorkerCount } from './pool-support.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';
import { SilentSink, type ConnectionInfo, type ConnectionLimits, type SocketBackend, type SocketLimitName, type SocketSink } from '../shared/connection/socket-backend.ts';
import { WebSocket } from '../shared/connection/websocket.ts';
import type { AlertLevel, AlertType } from '../shared/connection/tls-alert.ts';
import { checkTopic, LocalMembership, publishedPayload } from '../shared/pubsub/topic-membership.ts';
import type { PubSubCounters } from '../shared/pubsub/pubsub-stats.ts';
import { TopicHub } from './topic-hub.ts';
import { PubSubState, RedisBridge, type RedisCounters, type RedisPubSubOptions } from './redis-bridge.ts';
import { WorkerMirrorBackend } from './worker-mirror-backend.ts';
import { ThreadSlots } from '../shared/wire/connection-ids.ts';

/** The signals, as Qt names them (`Signal`), with their arguments. */
export type WebSocketServerEvents = {
  /**
   * A connection was upgraded. Mirror mode: take it with `nextPendingConnection()` (the argument
   * is undefined). Handler mode: the argument is the owner's lifecycle view of the connection.
   */
  [Signal.NewConnection]: [socket: WebSocket | undefined];
  /** Accepting a TCP connection failed (e.g. out of file descriptors). */
  [Signal.AcceptError]: [error: SocketError];
  /**
   * Qt's codes: listen failure 1006, pending queue full 1006, header too large 1009, version 1002,
   * origin denied 1008, a failed TLS handshake 1015 (Qt's code for it; the message names the
   * client and OpenSSL's reason); and ours: an httpRequestHandler or originAuthenticationRequired
   * listener that threw (or returned an invalid response) 1011, a pool thread that died 1006
   * (WorkerExited).
   */
  [Signal.ServerError]: [closeCode: number, error: WebSocketError];
  /** Emitted for every well-formed request; see WebSocketCorsAuthenticator. */
  [Signal.OriginAuthenticationRequired]: [authenticator: WebSocketCorsAuthenticator];
  /** The server stopped listening. */
  [Signal.Closed]: [];
  /**
   * A client's fatal TLS alert ended its TLS handshake (e.g. 48, unknown CA: it does not trust our
   * certificate). Every failed TLS handshake also gives `serverError(1015)`. See tls-alert.ts.
   */
  [Signal.AlertReceived]: [level: AlertLevel, type: AlertType, description: string];
  /** The link to Redis changed (see `pubsubState()`); `error` says why it is down, when known. */
  [Signal.PubSubStateChanged]: [state: PubSubState, error: Error | undefined];
};

/** Publish/subscribe figures: see pubsub-stats.ts and redis-bridge.ts. */
export interface PubSubStats extends PubSubCounters {
  state: PubSubState;
  /** Topics with subscribers in this server. */
  topics: number;
  redis: RedisCounters | undefined;
}

/** See `WebSocketServer.census()`. */
export interface ServerCensus {
  /** Connections in the registry, in any phase (not those a pool thread only counts: see CountedNews). */
  connections: number;
  /** Connections waiting in the pending queue. */
  pending: number;
  poolConnections: number;
  poolWaiting: number;
  /** Thread links (one per running pool thread). */
  links: number;
  /** Pool threads starting: their links are not up yet. */
  threadsStarting: number;
  linkHeld: number;
  workerHeld: number;
}

export interface WebSocketServerOptions {
  /**
   * The most pool threads that hold the connections. Default: one per core the process may use
   * (`os.availableParallelism()`). 0 runs every connection on the owner thread. On a Node without
   * socket transfer (< 26.6) a positive count falls back to 0 with a one-time warning. Only
   * `minWorkers` of them start with `listen()`; the others start as connections arrive.
   */
  workers?: number;
  /**
   * Pool threads started with the first `listen()` (at least 1; default
   * `ServerDefaults.minWorkers`; never more than `workers`). Each further thread starts when a
   * connection arrives and finds every running thread holding one, so unused capacity costs no
   * memory (about 15 MiB a thread); a started thread runs until `destroy()`. Set it to `workers`
   * to have every thread up before the first connection, as for a reconnect storm right after a
   * start: the connections that arrive while threads start go to the threads already running,
   * and stay there.
   */
  minWorkers?: number;
  /**
   * A module run in every pool thread that receives the connections (see handler-host.ts).
   * `listen()` (and `setSocketDescriptor()`) loads it on the owner thread first and resolves false when it cannot.
   */
  handler?: URL | string;
  /** Key and certificate for SecureMode.Secure (`tls.createSecureContext` options); `ca` lists the CAs client certificates must chain to. */
  tls?: SecureContextOptions;
  /**
   * SecureMode.Secure: whether TLS asks clients for a certificate (QueryPeer) or requires a valid
   * one (VerifyPeer); default VerifyNone. The certificate is in the upgrade request and on the socket.
   */
  peerVerifyMode?: PeerVerifyMode;
  /** Decides on each upgrade from the whole request (see `setUpgradeHandler`). Default: none. */
  upgradeHandler?: UpgradeHandler | null;
  /** Default 30 (Qt). Upgrades beyond it are answered 503. */
  maxPendingConnections?: number;
  /** Milliseconds from accept to the 101 (TLS included); default 10 000 (Qt); <= 0 disables. */
  handshakeTimeout?: number;
  /** Queued outgoing bytes beyond which a connection is closed with 1008; default 64 MiB. */
  highWaterMark?: number;
  /** How long a closing handshake may take before the connection is dropped; default 5000 ms. */
  closeTimeout?: number;
  /**
   * Ms a connection's output may wait before it is written, so that the messages of that time
   * leave in one write: fewer system calls per message (most of what a broadcast costs) for up
   * to that much more latency. Default 0: written at the end of the event-loop turn that made
   * it; at most 1000. `flush()` writes at once either way.
   */
  writeDelay?: number;
  /** Ms without a byte from a client before the server pings it; default 90 000; 0 disables (see ServerDefaults). */
  idleTimeout?: number;
  /** Ms a client has to answer that Ping (with anything) before it is dropped with 1001; default 30 000; 0: never. */
  pongTimeout?: number;
  /** Ms a frame or fragmented message may stop arriving before the connection closes with 1001; default 5000 (Qt); 0 disables. */
  frameTimeout?: number;
  /** Largest upgrade request header block (431 beyond it); default 16 KiB. */
  maxHeaderSize?: number;
  /** Initial limits of every connection (each socket has setters too). */
  maxAllowedIncomingFrameSize?: number;
  maxAllowedIncomingMessageSize?: number;
  outgoingFrameSize?: number;
  supportedSubprotocols?: string[];
  /** `listen` backlog (default 511, Node's). */
  backlog?: number;
  /**
   * Which thread accepts the TCP connections of `listen()` when there are pool threads:
   * 'threads' (the default on Linux): every pool thread listens on the port itself
   * (SO_REUSEPORT) and the kernel spreads the connections over them, so a connection costs the
   * owner no accept and no socket transfer; `socketDescriptor()` is then -1. 'owner' (the
   * default elsewhere): the owner accepts and moves each socket to the thread with the fewest
   * live connections. `setSocketDescriptor()`, `handleConnection()` and `handleUpgrade()`
   * always go through the owner.
   */
  accept?: AcceptThread;
  /**
   * Memory limits of each pool thread (`worker_threads` ResourceLimits). A thread that exceeds
   * them dies alone: its connections end with 1006 and the pool starts a replacement. Unset
   * fields keep their defaults: `maxYoungGenerationSizeMb` is
   * `ServerDefaults.workerMaxYoungGenerationSizeMb`, the rest Node's.
   */
  workerResourceLimits?: ResourceLimits;
  /**
   * Serves plain HTTP requests on the server's port with an `http.Server` (Express's, say), with
   * keep-alive and request content (see `setHttpServer`). Takes precedence over httpRequestHandler.
   */
  httpServer?: HttpServer | null;
  /**
   * Answers plain HTTP requests on the server's port (see `setHttpRequestHandler`). Default: none,
   * and a request without `Upgrade: websocket` is refused (400, or 405 for a method other than GET).
   */
  httpRequestHandler?: HttpRequestHandler | null;
  /**
   * permessage-deflate (RFC 7692), off by default (`DeflateDefaults.server`): `true` or 'shared'
   * (no zlib state per connection), 'dedicated' (context takeover, a window per connection), or
   * `{ mode, windowBits, threshold, level }`. See `setPerMessageDeflate`.
   */
  perMessageDeflate?: DeflateOption;
  /**
   * Topics across processes: `{ redis: 'redis://127.0.0.1:6379' }` carries every publish to the
   * other servers on the same Redis (see redis-bridge.ts). Default: topics span this server only.
   */
  pubsub?: RedisPubSubOptions;
}

/** See `WebSocketServerOptions.accept`. */
export type AcceptThread = 'threads' | 'owner';

/** Defaults of the server's options (Qt's where Qt has one). */
export const ServerDefaults = {
  maxPendingConnections: 30,
  /**
   * Two threads at listen() (or `workers`, if fewer): a thread that dies (its handler threw, ran
   * out of memory) leaves another accepting while its replacement starts; with one, the port
   * would refuse connections meanwhile. The rest start as connections arrive.
   */
  minWorkers: 2,
  handshakeTimeoutMs: 10_000,
  highWaterMark: 64 * 1024 * 1024,
  closeTimeoutMs: DefaultCloseTimeoutMs,
  writeDelayMs: 0,
  /**
   * A client silent for 90 s is pinged, and dropped (1001, `SocketError.IdleTimeout`) if it then
   * sends nothing for 30 s more: a dead peer (cable pulled, NAT entry dropped, no FIN) is found
   * 120 s after its last byte, as uWS and Bun drop idle connections after 120 s.
   */
  idleTimeoutMs: 90_000,
  pongTimeoutMs: 30_000,
  /** Qt's in-frame timeout: a frame or fragmented message that stops arriving for 5 s closes with 1001. */
  frameTimeoutMs: 5000,
  backlog: 511,
  /** Sockets accepted while accepting is paused, beyond which new ones are dropped (like a full backlog). */
  maxHeldWhilePaused: 511,
  /**
   * A pool thread's young generation, in MiB. V8 grows it while many objects survive, as when
   * connections arrive by the thousand, and keeps what it grew. Left to V8 (up to 96 MiB on
   * Node 26, 48 on Node 20) it was the largest part of a pool thread's memory after 8,000
   * connections had opened, over 5 KiB per connection. At 16 the echo benchmarks run as fast,
   * and opening and closing a connection costs V8 about 1 µs more.
   */
  workerMaxYoungGenerationSizeMb: 16,
} as const;



function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`${name} must be an integer >= 0; got ${String(value)}`);
  return value;
}

function checkMinWorkers(value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`minWorkers must be an integer >= 1; got ${String(value)}`);
  return value;
}

/** A second of delay is already more than any message wants; a typo of minutes is refused. */
const MaxWriteDelayMs = 1000;

function checkWriteDelay(ms: number): number {
  if (checkTimeoutMs('writeDelay', ms) > MaxWriteDelayMs) throw new InvalidArgumentError(`writeDelay must be at most ${MaxWriteDelayMs} ms; got ${String(ms)}`);
  return ms;
}

/** The events whose listeners change the standing acceptance (ConnectionSettings.standing). */
const StandingEvents = new Set<string | symbol>(['originAuthenticationRequired', 'newConnection']);

/** Qt fails each handshake (serverError 1006) for a name that cannot be a header value; we refuse it up front. */
function checkServerName(name: string): string {
  if (typeof name !== 'string' || !isFieldValue(name)) {
    throw new InvalidArgumentError(`serverName must be a valid HTTP header value (no CR, LF or other controls); got ${JSON.stringify(name)}`);
  }
  return name;
}

/** A URL as given, or a file path made absolute. */
function handlerHref(handler: URL | string): string {
  if (handler instanceof URL) return handler.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(handler) && !/^[a-z]:[\\/]/i.test(handler)) return new URL(handler).href;
  return pathToFileURL(resolve(handler)).href;
}

function socketErrorOf(error: { code?: string }): SocketError {
  switch (error.code) {
    case 'EADDRINUSE': return SocketError.AddressInUse;
    case 'EACCES': case 'EPERM': return SocketError.SocketAccess;
    case 'EADDRNOTAVAIL': return SocketError.SocketAddressNotAvailable;
    case 'EMFILE': case 'ENFILE': case 'ENOBUFS': case 'ENOMEM': return SocketError.SocketResource;
    case 'ENOTFOUND': case 'EAI_AGAIN': return SocketError.HostNotFound;
    default: return SocketError.UnknownSocket;
  }
}

export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  #serverName: string;
  readonly #secureMode: SecureMode;
  #tls: SecureContextOptions | undefined;
  /** The TLS configuration with its generation, which new sockets carry to the pool threads. */
  #tlsCurrent: TlsGeneration | undefined;
  readonly #handlerUrl: string | undefined;
  readonly #workers: number;
  #minWorkers: number;
  readonly #backlog: number;
  readonly #resourceLimits: ResourceLimits;
  #maxPendingConnections: number;
  #handshakeTimeoutMs: number;
  #highWaterMark: number;
  #closeTimeoutMs: number;
  #writeDelayMs: number;
  readonly #liveness: LivenessTimeouts;
  #maxHeaderSize: number;
  #limits: Record<SocketLimitName, number>;
  #supportedSubprotocols: string[];
  #httpRequestHandler: HttpRequestHandler | null = null;
  #deflate: DeflateSettings | null;
  #upgradeHandler: UpgradeHandler | null = null;
  /** What new connections get, until a setter changes it (#settings). */
  #currentSettings: ConnectionSettings | undefined;
  /** The limits and timeouts new connections get, likewise (#connectionLimits). */
  #currentLimits: ConnectionLimits | undefined;
  #httpServer: HttpServer | null = null;
  readonly #peerVerifyMode: PeerVerifyMode;

  #listener: Server | undefined;
  #binding = false;
  #address = '';
  #port = 0;
  /** Sockets the owner's listener accepted while accepting was paused. */
  readonly #acceptGate = new AcceptGate(ServerDefaults.maxHeldWhilePaused, (socket) => this.#adopt(socket));
  readonly #accept: AcceptThread;
  /** The pool threads accept this server's connections themselves (see `accept`). */
  #threadsListening = false;
  /** The threads' listeners closing after close(): a listen() waits for it, so the port is free to bind again. */
  #threadsUnlistening: Promise<void> | undefined;
  #pool: ConnectionPool | undefined;
  #inline: InlineTransport;
  #ownerSecureContext: SecureContext | undefined;
  #destroyed = false;
  #handlerLoaded = false;

  readonly #connections = new ConnectionRegistry();
  readonly #topics = new TopicHub();
  #redis: RedisBridge | undefined;

  #errorCode: number = CloseCode.Normal;
  #errorString = '';
  #socketError: SocketError = SocketError.UnknownSocket;

  constructor(serverName: string, secureMode: SecureMode = SecureMode.NonSecure, options: WebSocketServerOptions = {}) {
    super();
    if (secureMode !== SecureMode.Secure && secureMode !== SecureMode.NonSecure) {
      throw new InvalidArgumentError(`secureMode must be SecureMode.Secure or SecureMode.NonSecure; got ${String(secureMode)}`);
    }
    if (secureMode === SecureMode.Secure && options.tls === undefined) {
      throw new InvalidArgumentError('SecureMode.Secure needs the tls option (key and certificate)');
    }
    if (options.workers !== undefined && checkCount('workers', options.workers) >= ThreadSlots) throw new InvalidArgumentError(`workers must be below ${ThreadSlots}; got ${String(options.workers)}`);
    this.#serverName = checkServerName(serverName);
    this.#secureMode = secureMode;
    this.#tls = secureMode === SecureMode.Secure ? options.tls : undefined;
    this.#tlsCurrent = this.#tls === undefined ? undefined : { generation: 0, tls: this.#tls };
    this.#handlerUrl = options.handler === undefined ? undefined : handlerHref(options.handler);
    this.#workers = chooseWorkerCount(options.workers).workers;
    this.#minWorkers = checkMinWorkers(options.minWorkers ?? ServerDefaults.minWorkers);
    this.#backlog = checkCount('backlog', options.backlog ?? ServerDefaults.backlog);
    const accept = options.accept ?? (process.platform === 'linux' ? 'threads' : 'owner');
    if (accept !== 'threads' && accept !== 'owner') throw new InvalidArgumentError(`accept must be 'threads' or 'owner'; got ${String(accept)}`);
    this.#accept = accept;
    this.#resourceLimits = { maxYoungGenerationSizeMb: ServerDefaults.workerMaxYoungGenerationSizeMb, ...options.workerResourceLimits };
    this.#maxPendingConnections = checkCount('maxPendingConnections', options.maxPendingConnections ?? ServerDefaults.maxPendingConnections);
    this.#handshakeTimeoutMs = ServerDefaults.handshakeTimeoutMs;
    if (options.handshakeTimeout !== undefined) this.setHandshakeTimeout(options.handshakeTimeout);
    this.#highWaterMark = options.highWaterMark ?? ServerDefaults.highWaterMark;
    if (!(this.#highWaterMark > 0)) throw new InvalidArgumentError(`highWaterMark must be > 0; got ${String(options.highWaterMark)}`);
    this.#closeTimeoutMs = checkCount('closeTimeout', options.closeTimeout ?? ServerDefaults.closeTimeoutMs);
    this.#writeDelayMs = checkWriteDelay(options.writeDelay ?? ServerDefaults.writeDelayMs);
    this.#liveness = {
      idleTimeout: checkTimeoutMs('idleTimeout', options.idleTimeout ?? ServerDefaults.idleTimeoutMs),
      pongTimeout: checkTimeoutMs('pongTimeout', options.pongTimeout ?? ServerDefaults.pongTimeoutMs),
      frameTimeout: checkTimeoutMs('frameTimeout', options.frameTimeout ?? ServerDefaults.frameTimeoutMs),
    };
    this.#maxHeaderSize = checkLimit('maxHeaderSize', options.maxHeaderSize ?? Defaults.maxHandshakeHeaderSize);
    this.#limits = {
      maxAllowedIncomingFrameSize: checkLimit('maxAllowedIncomingFrameSize', options.maxAllowedIncomingFrameSize ?? Defaults.maxAllowedIncomingFrameSize),
      maxAllowedIncomingMessageSize: checkLimit('maxAllowedIncomingMessageSize', options.maxAllowedIncomingMessageSize ?? Defaults.maxAllowedIncomingMessageSize),
      outgoingFrameSize: checkLimit('outgoingFrameSize', options.outgoingFrameSize ?? Defaults.outgoingFrameSize),
    };
    this.#supportedSubprotocols = [];
    this.setSupportedSubprotocols(options.supportedSubprotocols ?? []);
    this.setHttpRequestHandler(options.httpRequestHandler ?? null);
    this.#deflate = resolveDeflateSettings(options.perMessageDeflate ?? DeflateDefaults.server);
    this.setUpgradeHandler(options.upgradeHandler ?? null);
    this.setHttpServer(options.httpServer ?? null);
    const peerVerifyMode = options.peerVerifyMode ?? PeerVerifyMode.VerifyNone;
    if (!Object.values(PeerVerifyMode).includes(peerVerifyMode)) {
      throw new InvalidArgumentError(`peerVerifyMode must be one of ${Object.values(PeerVerifyMode).join(', ')}; got ${String(peerVerifyMode)}`);
    }
    if (peerVerifyMode !== PeerVerifyMode.VerifyNone && secureMode !== SecureMode.Secure) {
      throw new InvalidArgumentError('peerVerifyMode needs SecureMode.Secure: client certificates come with TLS');
    }
    this.#peerVerifyMode = peerVerifyMode;
    this.#inline = new InlineTransport(this.#host, () => this.#secureContextForOwner());
    this.#topics.setFrameSize(this.#limits.outgoingFrameSize);
    this.#topics.setDeflate(this.#deflate);
    if (options.pubsub !== undefined) this.#startRedis(options.pubsub);
    this.#topics.setRoutes({
      toThread: (threadId, topic, origin, frames, compressed) => this.#pool?.linkOf(threadId)?.queuePublished(topic, origin, frames, compressed),
      topicInterest: (topic, interested) => this.#redis?.interest(topic, interested),
      toRedis: (topic, frames) => this.#redis?.publish(topic, frames),
    });
    this.on('newListener', this.#listenerAdded);
    this.on('removeListener', this.#listenerRemoved);
  }

  // An origin listener withdraws the standing acceptance (ConnectionSettings.standing), the last
  // one gone gives it back; a newConnection listener asks for each connection's info with it.
  // 'newListener' comes before the listener is counted.
  readonly #listenerAdded = (event: string | symbol): void => {
    if (StandingEvents.has(event)) this.#settingsChanged(true);
  };

  readonly #listenerRemoved = (event: string | symbol): void => {
    if (StandingEvents.has(event)) this.#settingsChanged();
  };

  /** EventEmitter's, keeping the server's own watch on its listeners (an origin listener added later must still be asked). */
  override removeAllListeners(...args: Parameters<EventEmitter<WebSocketServerEvents>['removeAllListeners']>): this {
    super.removeAllListeners(...args);
    const event = args[0];
    if (event === undefined || event === 'newListener') this.on('newListener', this.#listenerAdded);
    if (event === undefined || event === 'removeListener') this.on('removeListener', this.#listenerRemoved);
    this.#settingsChanged();
    return this;
  }

  #startRedis(options: RedisPubSubOptions): void {
    if (options === null || typeof options !== 'object' || typeof options.redis !== 'string' || options.redis === '') {
      throw new InvalidArgumentError(`pubsub.redis must be a Redis URL such as redis://127.0.0.1:6379; got ${JSON.stringify(options?.redis)}`);
    }
    const delay = options.maxReconnectDelayMs;
    if (delay !== undefined && !(Number.isFinite(delay) && delay > 0)) {
      throw new InvalidArgumentError(`pubsub.maxReconnectDelayMs must be a number of milliseconds > 0; got ${String(delay)}`);
    }
    this.#redis = new RedisBridge(options, {
      message: (topic, frames) => this.#topics.fromRedis(topic, frames),
      stateChanged: (state, error) => this.emit('pubsubStateChanged', state, error),
    });
  }

  // ---- listening ------------------------------------------------------------------------------

  /**
   * Qt's `listen(address, port)`: resolves true once listening, false with `error()`,
   * `errorString()`, `socketError()` and a `serverError(1006)` signal when binding failed (e.g.
   * `SocketError.AddressInUse`). The default address listens on every interface; port 0 picks one.
   */
  listen(address?: string, port = 0): Promise<boolean> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`port must be an integer from 0 to 65535; got ${String(port)}`);
    }
    return this.#listenOn({ host: address, port, backlog: this.#backlog }, 'listen()');
  }

  /**
   * Qt's `setSocketDescriptor()`: serves connections on a socket that is already listening,
   * inherited from whoever started this process (systemd socket activation, a zero-downtime
   * restart handing its port over). Resolves false, with `error()`/`errorString()` and
   * `serverError(1006)`, for a descriptor that is not a listening socket (Qt: -1 or -2 as well).
   */
  setSocketDescriptor(socketDescriptor: number): Promise<boolean> {
    if (!Number.isInteger(socketDescriptor) || socketDescriptor < 0) {
      return Promise.resolve(this.#listenFailed(SocketError.UnsupportedSocketOperation, `Invalid socket descriptor ${String(socketDescriptor)}`));
    }
    return this.#listenOn({ fd: socketDescriptor }, 'setSocketDescriptor()');
  }

  /** Qt's `socketDescriptor()`: the listening socket's file descriptor; -1 when not listening. */
  socketDescriptor(): number {
    // Node keeps the descriptor on its handle only (Unix); there is no public getter.
    const fd = (this.#listener as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : -1;
  }

  /** Qt's deprecated (6.2) name of `setSocketDescriptor()`. */
  setNativeDescriptor(descriptor: number): Promise<boolean> {
    return this.setSocketDescriptor(descriptor);
  }

  /** Qt's deprecated (6.2) name of `socketDescriptor()`. */
  nativeDescriptor(): number {
    return this.socketDescriptor();
  }

  /** `target`: an address to bind, or (Node's "handle" form) a descriptor to listen on. */
  async #listenOn(target: ListenOptions | { fd: number }, caller: string): Promise<boolean> {
    if (this.#destroyed) return this.#listenFailed(SocketError.Operation, 'The server has been destroyed');
    if (this.isListening() || this.#binding) return this.#listenFailed(SocketError.Operation, `${caller} called when already listening`);
    if (this.#handlerUrl !== undefined && !this.#handlerLoaded) return this.#listenOnceHandlerLoads(target, caller);
    this.#binding = true;
    if (this.#threadsUnlistening !== undefined) await this.#threadsUnlistening;
    // The threads accept by themselves on an address of ours; they join this listener's port
    // (SO_REUSEPORT), which then closes. A descriptor handed to us is the owner's to accept on.
    const inThreads = this.#accept === 'threads' && this.#workers > 0 && !('fd' in target);
    let bindTarget = target;
    if (inThreads) {
      const claimed = await claimPort(target as ListenOptions);
      if ('error' in claimed) {
        this.#binding = false;
        return this.#listenFailed(socketErrorOf(claimed.error), claimed.error.message);
      }
      bindTarget = { ...target, port: claimed.port, reusePort: true };
    }
    // No noDelay here: each connection sets it where it is served (see startServerHandshake).
    const listener = createServer({ pauseOnConnect: true });
    const bindError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      listener.once('error', resolve);
      const listening = (): void => {
        listener.off('error', resolve);
        resolve(undefined);
      };
      if ('fd' in bindTarget) listener.listen(bindTarget, this.#backlog, listening);
      else listener.listen(bindTarget, listening);
    });
    this.#binding = false;
    if (bindError !== undefined) {
      listener.close();
      return this.#listenFailed(socketErrorOf(bindError), bindError.message);
    }
    // The threads start with the first successful listen (or hand-over), not before.
    this.#startPool();
    listener.on('error', (error: NodeJS.ErrnoException) => this.emit('acceptError', socketErrorOf(error)));
    listener.on('connection', (socket) => this.#acceptGate.offer(socket));
    const bound = listener.address();
    if (bound !== null && typeof bound === 'object') {
      this.#address = bound.address;
      this.#port = bound.port;
    }
    this.#listener = listener;
    if (inThreads) await this.#listenInThreads(listener);
    // Listening means served: the threads have their links (connections accepted meanwhile wait).
    else await this.#pool?.ready;
    return true;
  }

  /**
   * The threads listen on `listener`'s port; once all do, `listener` closes. Until then it
   * accepts (and moves what it accepts) as the owner always did. A thread that cannot bind
   * leaves the accepting to the owner's listener, said in a serverError.
   */
  async #listenInThreads(listener: Server): Promise<void> {
    const pool = this.#pool!;
    const spec = { host: this.#address, port: this.#port, backlog: this.#backlog, maxHeldWhilePaused: ServerDefaults.maxHeldWhilePaused };
    const failure = await pool.listenInThreads(spec, this.#settings(), this.#host);
    if (this.#listener !== listener) {
      // close() came first: nothing listens.
      await pool.stopListening();
      return;
    }
    if (failure !== undefined) {
      this.#setError(CloseCode.AbnormalDisconnection, `The worker threads cannot listen on port ${this.#port} (${failure.message}); the owner thread accepts instead`, socketErrorOf(failure));
      return;
    }
    this.#listener = undefined;
    this.#threadsListening = true;
    listener.close();
  }

  /** A handler module that cannot load fails listen() and setSocketDescriptor() (see handler-preflight.ts). */
  async #listenOnceHandlerLoads(target: ListenOptions | { fd: number }, caller: string): Promise<boolean> {
    this.#binding = true;
    const failure = await handlerLoadFailure(this.#handlerUrl!);
    this.#binding = false;
    if (failure !== undefined) return this.#listenFailed(SocketError.UnknownSocket, `The handler module ${this.#handlerUrl} cannot be loaded: ${failure}`);
    this.#handlerLoaded = true;
    return this.#listenOn(target, caller);
  }

  #listenFailed(kind: SocketError, message: string): boolean {
    this.#socketError = kind;
    this.#setError(CloseCode.AbnormalDisconnection, message, kind);
    return false;
  }

  /**
   * Qt's `close()`: stops listening and emits `closed`. Connections waiting in the pending queue,
   * never taken, are closed with 1001 "Server closed." (Qt); those already taken stay up.
   */
  close(): void {
    for (const socket of this.#connections.takeAllPending()) socket.close(CloseCode.GoingAway, 'Server closed.');
    const listener = this.#listener;
    if (listener === undefined && !this.#threadsListening) return;
    this.#listener = undefined;
    this.#address = '';
    this.#port = 0;
    listener?.close();
    this.#acceptGate.dropHeld();
    if (this.#threadsListening) {
      this.#threadsListening = false;
      // `closed` once no thread accepts any more (a connection a thread accepted meanwhile is served).
      const unlistening = this.#pool!.stopListening().then(() => {
        if (this.#threadsUnlistening === unlistening) this.#threadsUnlistening = undefined;
        this.emit('closed');
      });
      this.#threadsUnlistening = unlistening;
      return;
    }
    // Qt queues `closed`: it arrives after close() has returned.
    setImmediate(() => this.emit('closed'));
  }

  isListening(): boolean {
    return this.#listener !== undefined || this.#threadsListening;
  }

  /** '' when not listening. */
  serverAddress(): string {
    return this.#address;
  }

  /** 0 when not listening. */
  serverPort(): number {
    return this.#port;
  }

  /** `ws://host:port` or `wss://…`; '' when not listening. A server bound to every interface reports 127.0.0.1 (Qt). */
  serverUrl(): string {
    if (!this.isListening()) return '';
    let host = this.#address;
    if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
    if (isIPv6(host)) host = `[${host}]`;
    return `${this.#secureMode === SecureMode.Secure ? 'wss' : 'ws'}://${host}:${this.#port}`;
  }

  /** Qt's `pauseAccepting()`: new TCP connections wait (unread) until `resumeAccepting()`. */
  pauseAccepting(): void {
    this.#acceptGate.setPaused(true);
    this.#pool?.setAcceptPaused(true);
  }

  resumeAccepting(): void {
    if (!this.#acceptGate.paused) return;
    this.#pool?.setAcceptPaused(false);
    this.#acceptGate.setPaused(false);
  }

  // ---- hand-over of sockets accepted elsewhere -------------------------------------------------

  /**
   * Qt's `handleConnection()`: runs the upgrade on a TCP socket accepted elsewhere, and takes it
   * over. A fresh socket (nothing read or written; accept with `pauseOnConnect: true`) moves to a
   * pool thread; any other runs on the owner thread, and a TLS socket is served as it is.
   */
  handleConnection(socket: Socket): void {
    if (this.#destroyed) {
      socket.destroy();
      return;
    }
    this.#startPool();
    // A socket from an http.Server allows half-open connections; a client that hangs up during the
    // handshake would then hold it until the handshake timeout.
    socket.allowHalfOpen = false;
    if (socket instanceof TLSSocket) {
      // TLS done by whoever accepted it: served here as it is (a TLS socket cannot move).
      this.#inline.adopt(socket, this.#connections.create(), this.#settings(), { initialBytes: new Uint8Array(0), secure: true });
      return;
    }
    this.#adopt(socket);
  }

  /**
   * For an `http.Server`'s `'upgrade'` event: `server.on('upgrade', (req, socket, head) =>
   * wss.handleUpgrade(req, socket, head))`. The request is checked exactly as if this server had
   * read it. Node cannot move a socket it has read from, so these connections run on the owner
   * thread (with the handler module loaded there too, in handler mode). A request whose Upgrade
   * is not websocket (h2c, say) goes to the httpRequestHandler when there is one, as on our port.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Uint8Array = new Uint8Array(0)): void {
    if (this.#destroyed) {
      socket.destroy();
      return;
    }
    const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
    const raw = request.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    const text = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const initial = head.length > 0 ? Buffer.concat([text, head]) : text;
    // http.Server sockets allow half-open connections; a WebSocket ends when its peer's TCP ends.
    socket.allowHalfOpen = false;
    const id = this.#connections.create();
    this.#inline.adopt(socket as Socket, id, this.#settings(), { initialBytes: initial, secure: socket instanceof TLSSocket });
  }

  #startPool(): void {
    if (this.#pool !== undefined || this.#workers === 0 || this.#destroyed) return;
    this.#pool = new ConnectionPool({
      threads: this.#workers,
      initialThreads: this.minWorkers(),
      handlerUrl: this.#handlerUrl,
      tls: this.#tls,
      resourceLimits: this.#resourceLimits,
      topics: this.#topics,
      onError: (error) => this.#setError(CloseCode.AbnormalDisconnection, `A worker thread failed: ${error.message}`, SocketError.WorkerExited),
      onAcceptError: (code) => this.emit('acceptError', socketErrorOf({ code })),
      onCountedFailed: this.#onLifecycleError,
    });
    if (this.#acceptGate.paused) this.#pool.setAcceptPaused(true);
  }

  #adopt(socket: Socket): void {
    const id = this.#connections.create();
    const settings = this.#settings();
    const pool = this.#pool;
    const fresh = socket.bytesRead === 0 && socket.bytesWritten === 0 && socket.writableLength === 0;
    if (pool === undefined || !fresh) {
      this.#inline.adopt(socket, id, settings);
      return;
    }
    void pool.adopt(socket, id, settings, this.#host).then((moved) => {
      // Node refused to move it (it has been read from already): serve it here.
      if (!moved) this.#inline.adopt(socket, id, settings);
    });
  }

  /**
   * A setter changed what new connections get: the threads' listeners learn it (moved sockets
   * carry theirs). `later`: what changed is counted only after this call returns (a listener
   * being added), so the threads hear of it a moment after.
   */
  #settingsChanged(later = false): void {
    this.#currentSettings = undefined;
    this.#currentLimits = undefined;
    if (later) queueMicrotask(() => this.#settingsChanged());
    else this.#pool?.updateListenSettings(this.#settings());
  }

  /** What every new connection gets, made again only after a change (#settingsChanged). */
  #settings(): ConnectionSettings {
    this.#currentSettings ??= {
      handshakeTimeoutMs: this.#handshakeTimeoutMs,
      maxHeaderSize: this.#maxHeaderSize,
      highWaterMark: this.#highWaterMark,
      closeTimeoutMs: this.#closeTimeoutMs,
      writeDelayMs: this.#writeDelayMs,
      plainHttp: this.#httpRequestHandler !== null,
      tls: this.#tlsCurrent,
      deflate: this.#deflate,
      httpHandOver: this.#httpServer !== null,
      peerVerifyMode: this.#peerVerifyMode,
      standing: this.#standingAcceptance(),
    };
    return this.#currentSettings;
  }

  /** Whether an upgrade request has someone on this thread to ask: an origin listener or an upgrade handler. */
  #someoneDecides(): boolean {
    return this.#upgradeHandler !== null || this.listenerCount('originAuthenticationRequired') > 0;
  }

  /** See ConnectionSettings.standing: handler mode (no pending queue) with nobody on this thread to decide. */
  #standingAcceptance(): StandingAcceptance | null {
    if (this.#handlerUrl === undefined || this.#someoneDecides()) return null;
    return { supportedSubprotocols: this.#supportedSubprotocols, serverName: this.#serverName, limits: this.#connectionLimits(), observed: this.listenerCount('newConnection') > 0 };
  }

  /**
   * The engine limits and timeouts a connection accepted now gets: one object until a setter
   * changes them, shared by every decision and connection (they only read it).
   */
  #connectionLimits(): ConnectionLimits {
    return (this.#currentLimits ??= { ...this.#limits, ...this.#liveness });
  }

  #secureContextForOwner(): SecureContext | undefined {
    if (this.#tls === undefined) return undefined;
    this.#ownerSecureContext ??= createSecureContext(this.#tls);
    return this.#ownerSecureContext;
  }

  // ---- what the transports report ----------------------------------------------------------------

  readonly #host: ServerConnectionHost = {
    acceptedInThread: (id) => this.#connections.register(id),
    decide: (id, summary) => this.#decide(id, summary),
    httpRequest: (id, request) => this.#answerHttp(id, request),
    httpHandedOver: (id, socket) => this.#httpHandedOver(id, socket),
    handshakeFailed: (id, failure) => this.#handshakeFailed(id, failure),
    upgraded: (id, threadId, backend, info, limits) => this.#upgraded(id, threadId, backend, info, limits ?? this.#connectionLimits()),
    ended: (id) => this.#ended(id),
  };

  /**
   * The owner's answer to an upgrade request. Without an origin listener or an upgrade handler,
   * and with room in the pending queue, it is given at once, not as a promise.
   */
  #decide(id: number, summary: HandshakeSummary): HandshakeDecision | Promise<HandshakeDecision> {
    const record = this.#connections.get(id);
    if (record === undefined || this.#destroyed) return { accept: false, status: 503, reason: 'The server is shutting down' };
    record.threadId = summary.threadId;
    return this.#someoneDecides() ? this.#decideAsking(id, summary) : this.#admit(id, summary, undefined);
  }

  /** #decide with someone to ask first: the origin listener, then the upgrade handler. */
  async #decideAsking(id: number, summary: HandshakeSummary): Promise<HandshakeDecision> {
    if (this.listenerCount('originAuthenticationRequired') > 0) {
      const authenticator = new WebSocketCorsAuthenticator(summary.origin);
      try {
        this.emit('originAuthenticationRequired', authenticator);
      } catch (error) {
        // The application's bug, reported as an httpRequestHandler's is: the client gets a 500
        // rather than a decision nobody made, the application a serverError(1011) saying why.
        const message = error instanceof Error ? error.message : String(error);
        this.#setError(CloseCode.BadOperation, `The originAuthenticationRequired listener failed: ${message}`, SocketError.UnknownSocket);
        return { accept: false, status: 500, reason: 'The server failed to decide on the upgrade' };
      }
      const allowed = await authenticator.decision();
      if (!allowed) {
        this.#setError(CloseCode.PolicyViolated, 'Access forbidden.', SocketError.PolicyViolated);
        return { accept: false, status: 403, reason: 'Access Forbidden' };
      }
    }
    const handler = this.#upgradeHandler;
    let accepted: CheckedAcceptance | undefined;
    if (handler !== null) {
      let decision: CheckedDecision;
      try {
        decision = checkUpgradeDecision(await handler(upgradeRequestOf(summary)), summary.subprotocols);
      } catch (error) {
        // The application's bug: the client learns only that it failed, the application why.
        const message = error instanceof Error ? error.message : String(error);
        this.#setError(CloseCode.BadOperation, `The upgrade handler failed: ${message}`, SocketError.UnknownSocket);
        return { accept: false, status: 500, reason: 'The server failed to decide on the upgrade' };
      }
      if (!decision.accept) return { accept: false, status: decision.status, reason: decision.body, headers: decision.headers };
      accepted = decision;
    }
    // The attempt may have timed out while the authenticator or the handler decided.
    if (this.#connections.get(id) === undefined) return { accept: false, status: 503, reason: 'The opening handshake was abandoned' };
    return this.#admit(id, summary, accepted);
  }

  /** A place in the pending queue and the yes: at once when there is room, else once there is. */
  #admit(id: number, summary: HandshakeSummary, accepted: CheckedAcceptance | undefined): HandshakeDecision | Promise<HandshakeDecision> {
    // Handler mode has no pending queue: no room to run out of.
    const room = this.#handlerUrl === undefined ? this.#maxPendingConnections : Infinity;
    if (this.#connections.reserve(id, room)) return this.#acceptance(summary, accepted);
    return this.#admitWhenRoom(id, summary, accepted, room);
  }

  async #admitWhenRoom(id: number, summary: HandshakeSummary, accepted: CheckedAcceptance | undefined, room: number): Promise<HandshakeDecision> {
    while (!this.#connections.reserve(id, room)) {
      // Full of connections nobody took: refused. Full only with the help of upgrades whose 101
      // is still on its way between the threads: those free their place as soon as the
      // application takes them, so wait for that (the handshake timeout bounds the wait).
      if (this.#connections.queueFull(room)) {
        this.#setError(CloseCode.AbnormalDisconnection, 'Too many pending connections.', SocketError.SocketResource);
        return { accept: false, status: 503, reason: 'Too many pending connections' };
      }
      await this.#connections.roomFreed();
      if (this.#destroyed || this.#connections.get(id) === undefined) return { accept: false, status: 503, reason: 'The opening handshake was abandoned' };
    }
    return this.#acceptance(summary, accepted);
  }

  #acceptance(summary: HandshakeSummary, accepted: CheckedAcceptance | undefined): HandshakeDecision {
    return {
      accept: true,
      subprotocol: accepted?.subprotocol ?? chooseSubprotocol(summary.subprotocols, this.#supportedSubprotocols),
      serverName: this.#serverName,
      limits: this.#connectionLimits(),
      frameSignals: false,
      headers: accepted?.headers,
      attachment: accepted?.attachment,
    };
  }

  async #answerHttp(id: number, request: HttpRequest): Promise<Uint8Array> {
    if (this.#destroyed || this.#connections.get(id) === undefined) return buildErrorResponse(503, 'The server is shutting down');
    const handler = this.#httpRequestHandler;
    // Removed after this connection was accepted: the answer it would have had without one.
    if (handler === null) {
      if (request.method !== 'GET') return buildErrorResponse(405, `Method ${request.method} not allowed: use GET`, [['Allow', 'GET']]);
      return buildErrorResponse(400, 'Missing or invalid Upgrade header: expected websocket');
    }
    try {
      return buildHttpResponse(request.method, await handler(request), this.#serverName);
    } catch (error) {
      // The application's bug: the client learns only that it failed, the application why.
      const message = error instanceof Error ? error.message : String(error);
      this.#setError(CloseCode.BadOperation, `The HTTP request handler failed: ${message}`, SocketError.UnknownSocket);
      return buildErrorResponse(500, 'The server failed to answer the request');
    }
  }

  #httpHandedOver(id: number, socket: Duplex): void {
    const server = this.#httpServer;
    // Removed, or the server destroyed, after this connection was accepted: nobody serves it.
    if (server === null || this.#destroyed || this.#connections.get(id) === undefined) {
      socket.destroy();
      return;
    }
    server.emit('connection', socket);
  }

  #handshakeFailed(id: number, failure: HandshakeFailure): void {
    this.#connections.handshakeFailed(id);
    const alert = failure.tlsAlert;
    if (alert !== undefined) this.emit('alertReceived', alert.level, alert.type, alert.description);
    if (failure.serverErrorCode !== 0) {
      const kind = failure.serverErrorCode === CloseCode.TlsHandshakeFailed ? SocketError.SslHandshakeFailed
        : failure.status === 426 || failure.status === 431 ? SocketError.HandshakeFailed
        : failure.status === 503 ? SocketError.HandshakeTimeout
        : SocketError.ProtocolViolation;
      this.#setError(failure.serverErrorCode, failure.reason, kind);
    }
  }

  #upgraded(id: number, threadId: number, backend: SocketBackend, info: ConnectionInfo, limits: ConnectionLimits): void {
    const record = this.#connections.get(id);
    if (record === undefined) {
      backend.attach(SilentSink);
      backend.abort();
      return;
    }
    record.threadId = threadId;
    if (this.#handlerUrl === undefined) {
      this.#connections.open(id, { backend, info, limits, topics: this.#membership(id, backend) });
      this.emit('newConnection', undefined);
      return;
    }
    if (record.threadId !== 0) {
      // A pool thread runs the handler; the owner gets the lifecycle view, made only for a
      // listener (or for closeAllConnections): 4 KiB and a few microseconds per connection. One
      // accepted while someone listened may find nobody listening now: booked only.
      if (this.listenerCount('newConnection') === 0) {
        this.#connections.openUnobserved(id, backend);
        backend.attach(this.#unobservedSink);
        return;
      }
      this.#connections.open(id);
      record.socket = WebSocket.adopt(backend, info, limits);
      // The thread's handler module failing reaches the owner as this socket's error: the
      // server says so too, as it does when the module fails on this thread.
      record.socket.once('errorOccurred', this.#onLifecycleError);
      this.emit('newConnection', record.socket);
      return;
    }
    this.#connections.open(id);
    // Handler mode on the owner thread (workers: 0, or an 'upgrade' socket): the handler runs here.
    serveWithHandler(backend, info, this.#handlerUrl, limits, {
      adopted: (socket) => {
        record.socket = socket;
        this.emit('newConnection', socket);
      },
      failed: (error) => this.#setError(CloseCode.AbnormalDisconnection, error.message, error.kind),
      topics: this.#membership(id, backend),
    });
  }

  readonly #onLifecycleError = (error: WebSocketError): void => {
    if (error.kind === SocketError.HandlerFailed) this.#setError(CloseCode.AbnormalDisconnection, error.message, error.kind);
  };

  /** The sink of handler-mode connections nobody on the owner sees: only a failed handler module is news. */
  readonly #unobservedSink: SocketSink = { ...SilentSink, error: this.#onLifecycleError };

  /** How the socket of connection `id` reaches the topics: its mirror asks its thread, a local one joins here. */
  #membership(id: number, backend: SocketBackend): TopicMembership | undefined {
    if (backend instanceof WorkerMirrorBackend) return backend;
    if (backend instanceof EngineSocketBackend) return new LocalMembership(this.#topics, id, backend);
    return undefined;
  }

  #ended(id: number): void {
    this.#connections.end(id);
  }

  #setError(code: number, message: string, kind: SocketError): void {
    // Qt emits serverError only when the (code, text) pair changes.
    const changed = code !== this.#errorCode || message !== this.#errorString;
    this.#errorCode = code;
    this.#errorString = message;
    if (changed) this.emit('serverError', code, new WebSocketError(kind, message, code as CloseCode));
  }

  // ---- topics (publish/subscribe, as uWebSockets.js and Bun) -------------------------------------

  /**
   * Sends `message` (a string: text; bytes: binary) to every subscriber of `topic`, on every
   * thread (see `WebSocket.subscribe`), and to the other servers over Redis when the server has
   * it. Framed once, here, before this returns.
   */
  publish(topic: string, message: string | Uint8Array | ArrayBuffer): void {
    checkTopic(topic);
    this.#topics.publish(topic, publishedPayload(message), 0);
  }

  /**
   * Subscribers of `topic` in this server (not over Redis). Handler-mode subscriptions count once
   * the owner has read their thread's turn (within an event-loop turn or so).
   */
  numSubscribers(topic: string): number {
    return this.#topics.numSubscribers(topic);
  }

  /** Every topic with subscribers in this server, with their number. */
  subscriberCounts(): Map<string, number> {
    return this.#topics.topics();
  }

  /** `local` without Redis; else where the link to Redis stands (`pubsubStateChanged` tells each change). */
  pubsubState(): PubSubState {
    return this.#redis?.state ?? PubSubState.Local;
  }

  /** What publish/subscribe did: frames built once, deliveries, bytes copied, thread posts, Redis. */
  pubsubStats(): PubSubStats {
    return {
      ...this.#topics.counters,
      state: this.pubsubState(),
      topics: this.#topics.topics().size,
      redis: this.#redis === undefined ? undefined : { ...this.#redis.counters },
    };
  }

  // ---- pending connections ---------------------------------------------------------------------

  /** First in, first out; null when none is waiting (and always in handler mode). */
  nextPendingConnection(): WebSocket | null {
    return this.#connections.takePending() ?? null;
  }

  hasPendingConnections(): boolean {
    return this.#connections.pendingCount > 0;
  }

  maxPendingConnections(): number {
    return this.#maxPendingConnections;
  }

  setMaxPendingConnections(count: number): void {
    this.#maxPendingConnections = checkCount('maxPendingConnections', count);
  }

  // ---- closing every connection ------------------------------------------------------------------

  /**
   * Closes every upgraded connection (those in the pending queue too) with `code` (default 1001,
   * going away) and resolves when all of them have ended. Connections that have not ended after
   * `timeoutMs` are dropped.
   */
  async closeAllConnections(code: number = CloseCode.GoingAway, reason = 'Server shutting down', timeoutMs = this.#closeTimeoutMs): Promise<void> {
    const open = this.#connections.openConnections();
    for (const { closer } of open) {
      // A socket closed already (Unconnected, Closing) ignores this, as a backend that has ended does.
      closer.close(code, reason);
    }
    // Connections a pool thread only counts (handler mode, nobody listening here) close there.
    const counted = this.#pool?.closeCounted(code, reason);
    const all = Promise.all([...open.map((record) => record.ended), counted]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    for (const { closer } of open) closer.abort();
    this.#pool?.abortCounted();
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  /**
   * Stops listening, closes every connection with 1001 (see `closeAllConnections`), then stops
   * the pool threads. The server cannot listen again afterwards.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.close();
    await this.closeAllConnections();
    this.#destroyed = true;
    this.#inline.dropHandshakes();
    await this.#pool?.destroy();
    this.#pool = undefined;
    await this.#redis?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  // ---- settings (Qt's getters and setters) --------------------------------------------------------

  serverName(): string {
    return this.#serverName;
  }

  /** The `Server:` header of new handshakes; left out when empty. */
  setServerName(name: string): void {
    this.#serverName = checkServerName(name);
    this.#settingsChanged();
  }

  secureMode(): SecureMode {
    return this.#secureMode;
  }

  /** The TLS options of SecureMode.Secure (Qt's `sslConfiguration()`); undefined in NonSecure mode. */
  sslConfiguration(): SecureContextOptions | undefined {
    return this.#tls === undefined ? undefined : { ...this.#tls };
  }

  /**
   * Qt's `setSslConfiguration()`, at run time too: certificate rotation. New connections, on every
   * thread, use the new key and certificate; connections already open (or in their TLS handshake)
   * keep theirs and stay up. The options are checked here (InvalidArgumentError for a key that
   * does not parse or match). SecureMode.NonSecure has no TLS to configure: that throws too (Qt
   * ignores the call).
   */
  setSslConfiguration(tls: SecureContextOptions): void {
    if (this.#secureMode !== SecureMode.Secure) {
      throw new InvalidArgumentError('setSslConfiguration() needs a server in SecureMode.Secure');
    }
    let context: SecureContext;
    try {
      context = createSecureContext(tls);
    } catch (error) {
      throw new InvalidArgumentError(`Invalid TLS configuration: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#tls = { ...tls };
    this.#ownerSecureContext = context;
    this.#tlsCurrent = { generation: (this.#tlsCurrent?.generation ?? 0) + 1, tls: this.#tls };
    this.#settingsChanged();
  }

  /** The permessage-deflate settings new connections negotiate with; null when off. */
  perMessageDeflate(): Readonly<DeflateSettings> | null {
    return this.#deflate;
  }

  /** Applies to handshakes from now on (as Qt's setters); `false` declines every offer. */
  setPerMessageDeflate(option: DeflateOption): void {
    this.#deflate = resolveDeflateSettings(option);
    this.#topics.setDeflate(this.#deflate);
    this.#settingsChanged();
  }

  /** Milliseconds (Qt's `handshakeTimeoutMS()`). */
  handshakeTimeout(): number {
    return this.#handshakeTimeoutMs;
  }

  handshakeTimeoutMS(): number {
    return this.#handshakeTimeoutMs;
  }

  /** Affects new connections; <= 0 disables the timeout (Qt: negative). */
  setHandshakeTimeout(ms: number): void {
    if (typeof ms !== 'number' || Number.isNaN(ms)) throw new InvalidArgumentError(`handshake timeout must be a number of milliseconds; got ${String(ms)}`);
    this.#handshakeTimeoutMs = ms;
    this.#settingsChanged();
  }

  /** Always [13]: RFC 6455 is the only version spoken. */
  supportedVersions(): number[] {
    return [13];
  }

  supportedSubprotocols(): string[] {
    return [...this.#supportedSubprotocols];
  }

  /** The subprotocol chosen is the first in the client's order that is in this list (Qt). */
  setSupportedSubprotocols(protocols: string[]): void {
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !isToken(protocol)) {
        throw new InvalidArgumentError(`Invalid subprotocol ${JSON.stringify(protocol)}: must be an HTTP token`);
      }
    }
    this.#supportedSubprotocols = [...protocols];
    this.#settingsChanged();
  }

  httpRequestHandler(): HttpRequestHandler | null {
    return this.#httpRequestHandler;
  }

  /**
   * Answers plain HTTP on this server's port: each well-formed request without `Upgrade: websocket`
   * (any method; no request content, which is refused with 413) is passed to `handler` on this
   * thread, and its response written by the thread holding the connection, with
   * `Content-Length` and `Connection: close`; then the connection closes (one request per
   * connection). The handshake timeout covers it, from accept to the response handed to the OS.
   * A handler that throws, rejects or returns an invalid response gets the client a 500, and the
   * server a `serverError(1011)` with the reason. `null` removes it: such requests get 400 again
   * (405 for a method other than GET). Upgrade requests are unaffected. Affects new connections.
   */
  setHttpRequestHandler(handler: HttpRequestHandler | null): void {
    if (handler !== null && typeof handler !== 'function') {
      throw new InvalidArgumentError(`httpRequestHandler must be a function or null; got ${typeof handler}`);
    }
    this.#httpRequestHandler = handler;
    this.#settingsChanged();
  }

  /** Ms without a byte from a client before it is pinged (default 90 000); affects new connections. */
  idleTimeout(): number {
    return this.#liveness.idleTimeout;
  }

  /** 0 disables the automatic Ping (and so the pong timeout). Each socket has its own setter too. */
  setIdleTimeout(ms: number): void {
    this.#liveness.idleTimeout = checkTimeoutMs('idleTimeout', ms);
    this.#settingsChanged();
  }

  /** Ms a pinged client has to send anything before it is dropped with 1001 (default 30 000); affects new connections. */
  pongTimeout(): number {
    return this.#liveness.pongTimeout;
  }

  /** 0: ping, but never drop. */
  setPongTimeout(ms: number): void {
    this.#liveness.pongTimeout = checkTimeoutMs('pongTimeout', ms);
    this.#settingsChanged();
  }

  /** Ms a frame or fragmented message may stop arriving before the connection closes with 1001 (default 5000, Qt's); affects new connections. */
  frameTimeout(): number {
    return this.#liveness.frameTimeout;
  }

  /** 0 disables it. */
  setFrameTimeout(ms: number): void {
    this.#liveness.frameTimeout = checkTimeoutMs('frameTimeout', ms);
    this.#settingsChanged();
  }

  httpServer(): HttpServer | null {
    return this.#httpServer;
  }

  /**
   * Plain HTTP on this port goes to `server` (an `http.Server`, never listening itself: Express's
   * `http.createServer(app)`, say): a connection whose first request is no upgrade is given to
   * it as a socket (`server.emit('connection', socket)`), with that request, its content and
   * whatever follows (keep-alive, pipelining) until it closes. Upgrades stay ours and keep
   * their thread. With `workers: 0` the socket itself is given (no cost); from a pool thread,
   * which cannot give a socket back once it has read it, the bytes are relayed through the
   * owner thread, both ways. An upgrade on a connection the http.Server already has is its
   * own ('upgrade' event; `handleUpgrade` serves it on this thread). Takes precedence over
   * the httpRequestHandler; `null` removes it. Affects new connections.
   */
  setHttpServer(server: HttpServer | null): void {
    if (server !== null && !(server instanceof EventEmitter && server.listenerCount('connection') > 0)) {
      throw new InvalidArgumentError('httpServer must be an http.Server or null');
    }
    if (server instanceof TlsServer) {
      // This server does the TLS (SecureMode.Secure): the http.Server gets the decrypted bytes.
      throw new InvalidArgumentError('httpServer must be a plain http.Server: TLS is done by this server (SecureMode.Secure)');
    }
    this.#httpServer = server;
    this.#settingsChanged();
  }

  upgradeHandler(): UpgradeHandler | null {
    return this.#upgradeHandler;
  }

  /**
   * Decides on upgrades from the whole request: `handler` runs on this thread for each request
   * that passed the protocol checks and `originAuthenticationRequired`, gets the method, URL,
   * every header, the peer's address and (with a peerVerifyMode) its certificate, and answers
   * `{ accept: true, headers?, subprotocol?, attachment? }` or `{ accept: false, status,
   * headers?, body? }`. The attachment is on the connection's sockets (`attachment()`), in the
   * owner and in a handler module alike. A handler that throws, rejects or answers something
   * unsendable gets the client a 500 and the server a `serverError(1011)` (1006 for a header
   * that cannot be written, checked where the response is built, as Qt's bad-response code); one still deciding
   * when the handshake timeout ends gets the client a 503 (with `Retry-After`) and the server a
   * `serverError(1013)`. `null` removes it. Affects new handshakes. Without one, nothing
   * more is asked than before: the decision is the one the owner makes anyway.
   */
  setUpgradeHandler(handler: UpgradeHandler | null): void {
    this.#upgradeHandler = checkUpgradeHandler(handler);
    this.#settingsChanged();
  }

  /** The client certificate policy of SecureMode.Secure (Qt's `sslConfiguration().peerVerifyMode()`). */
  peerVerifyMode(): PeerVerifyMode {
    return this.#peerVerifyMode;
  }

  highWaterMark(): number {
    return this.#highWaterMark;
  }

  /** Affects new connections. */
  setHighWaterMark(bytes: number): void {
    if (!(bytes > 0)) throw new InvalidArgumentError(`highWaterMark must be > 0; got ${String(bytes)}`);
    this.#highWaterMark = bytes;
    this.#settingsChanged();
  }

  /** Ms output may wait to share a write with what follows (default 0; see the `writeDelay` option). */
  writeDelay(): number {
    return this.#writeDelayMs;
  }

  /** Affects new connections. */
  setWriteDelay(ms: number): void {
    this.#writeDelayMs = checkWriteDelay(ms);
    this.#settingsChanged();
  }

  /** Qt's `error()`: the close code of the last server error (1000 initially). */
  error(): number {
    return this.#errorCode;
  }

  errorString(): string {
    return this.#errorString;
  }

  /** The socket-level kind of the last `listen()` failure (e.g. `AddressInUse`); `UnknownSocket` initially. */
  socketError(): SocketError {
    return this.#socketError;
  }

  // ---- threads ------------------------------------------------------------------------------------

  /** The most pool threads this server runs (0: every connection runs on the owner thread). */
  workerCount(): number {
    return this.#workers;
  }

  /** Pool threads started with `listen()`: the `minWorkers` option, at most `workerCount()`. */
  minWorkers(): number {
    return Math.min(this.#minWorkers, this.#workers);
  }

  /**
   * Sets `minWorkers()`. On a server already serving, threads start at once up to the new
   * count; a lower count stops none (a started thread runs until `destroy()`).
   */
  setMinWorkers(count: number): void {
    this.#minWorkers = checkMinWorkers(count);
    this.#pool?.startThreads(this.minWorkers());
  }

  /**
   * Live connections per thread (thread id → count), every running pool thread listed; 0 is the owner
   * thread. A pool thread running a handler module reports its connections' openings and ends
   * within a few milliseconds (batched), so these counts trail them by as much.
   */
  workerConnectionCounts(): Map<number, number> {
    const counts = this.#connections.openCountsByThread(this.#pool?.threadIds() ?? []);
    this.#pool?.addCountedByThread(counts);
    return counts;
  }

  /** Upgraded connections that have not ended (as their threads reported them: see workerConnectionCounts). */
  connectionCount(): number {
    return this.#connections.openCount + (this.#pool?.countedConnections ?? 0);
  }

  /**
   * What the server holds for connections, on the owner and in every pool thread: all zeros but
   * `links` once every connection has ended. For tests and operators hunting leaks.
   */
  async census(): Promise<ServerCensus> {
    const pool = await this.#pool?.census();
    return {
      connections: this.#connections.size,
      pending: this.#connections.pendingCount,
      poolConnections: pool?.connections ?? 0,
      poolWaiting: pool?.waiting ?? 0,
      links: pool?.links ?? 0,
      threadsStarting: pool?.starting ?? 0,
      linkHeld: pool?.linkHeld ?? 0,
      workerHeld: pool?.workerHeld ?? 0,
    };
  }

  /** Traffic between the threads: how well signals and commands are batched. */
  threadTrafficStats(): ThreadTrafficStats {
    return { ...(this.#pool?.stats ?? { signalCalls: 0, signalEvents: 0, commandCalls: 0 }) };
  }
}
