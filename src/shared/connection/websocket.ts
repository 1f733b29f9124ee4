/**
 * src/shared/connection: one WebSocket connection, on whichever thread holds its socket (the
 * owner with `workers: 0` and for clients, a pool thread otherwise). This file is its public face,
 * Qt's `QWebSocket`; beside it: the `SocketBackend` seam (socket-backend.ts), the engine over a
 * stream (engine-socket-backend.ts), the server side's handshake runner and backend
 * (server-handshake.ts, server-connection.ts), the client's connect and open (client-*.ts), and
 * the host of user handler modules (handler-host.ts).
 */
import { headerListOf } from './header-text.ts';
import { Buffer } from 'node:buffer';
import { ShapedEmitter } from './shaped-emitter.ts';
import { asBuffer } from '../engine/bytes.ts';
import { CloseCode } from '../engine/close-code.ts';
import { checkCloseToSend } from '../engine/close-payload.ts';
import { InvalidArgumentError, SocketError, WebSocketError } from '../engine/errors.ts';
import type { ExtensionFactory } from '../engine/extension.ts';
import { clientPerMessageDeflate, type ClientDeflateOptions } from '../engine/permessage-deflate.ts';
import { parseCommaList } from '../engine/http-headers.ts';
import { checkLimit, Defaults, MaxFrameSize } from '../engine/limits.ts';
import { checkTimeoutMs, type LivenessTimeoutName, type LivenessTimeouts } from '../engine/liveness.ts';
import { DefaultMaskGenerator, type MaskGenerator } from '../engine/mask-generator.ts';
import { PauseMode, State, Version } from '../engine/state.ts';
import { unguardErrors, type ProxyConfiguration, type SslConfiguration, type SslError } from './client-connect.ts';
import { buildUpgradeRequest, ClientOpening } from './client-open.ts';
import { parseClientUrl, type ClientTarget } from './client-url.ts';
import { DefaultCloseTimeoutMs } from './engine-socket-backend.ts';
import type { PreSharedKeyAuthenticator } from './psk-authenticator.ts';
import type { AlertLevel, AlertType } from './tls-alert.ts';
import { OptionalSignal, type ConnectionInfo, type HeaderList, type SocketBackend, type SocketLimitName, type SocketSink } from './socket-backend.ts';
import type { PeerCertificate } from './peer-certificate.ts';
import type { Authenticator } from './authenticator.ts';
import { proxyFromEnvironment } from './environment-proxy.ts';
import { MessageIterator, type Message, type MessageQueueLimits } from './websocket-messages.ts';
import { checkTopic, publishedPayload, type TopicMembership } from '../pubsub/topic-membership.ts';

/** The signals, as Qt names them, with their arguments. */
export type WebSocketEvents = {
  connected: [];
  disconnected: [];
  stateChanged: [state: State];
  textMessageReceived: [message: string];
  binaryMessageReceived: [message: Buffer];
  textFrameReceived: [frame: string, isLastFrame: boolean];
  binaryFrameReceived: [frame: Buffer, isLastFrame: boolean];
  pong: [elapsedMs: number, payload: Buffer];
  bytesWritten: [bytes: number];
  errorOccurred: [error: WebSocketError];
  aboutToClose: [];
  /** The peer ended its side of TCP (its FIN); `disconnected` follows. */
  readChannelFinished: [];
  sslErrors: [errors: SslError[]];
  /** One certificate verification failure, before `sslErrors` lists them all. */
  peerVerifyError: [error: SslError];
  /** With `sslConfiguration.handshakeMustInterruptOnError`: call `continueInterruptedHandshake()` in the listener to go on. */
  handshakeInterruptedOnError: [error: SslError];
  /** A fatal TLS alert from the server ended the TLS handshake (see tls-alert.ts). */
  alertReceived: [level: AlertLevel, type: AlertType, description: string];
  /**
   * The TLS handshake can use a pre-shared key: fill the authenticator in before returning.
   * Offered only when a listener is registered at `open()` (the SSL configuration may have to
   * allow PSK suites with `ciphers` for TLS 1.2; TLS 1.3 needs nothing).
   */
  preSharedKeyAuthenticationRequired: [authenticator: PreSharedKeyAuthenticator];
  /**
   * The server answered 401 (Qt 6.6): set a user and password on the authenticator in the
   * listener and the opening retries once with them (Basic). Without a listener, or without
   * credentials, the opening fails as for any other status.
   */
  authenticationRequired: [authenticator: Authenticator];
  /** The proxy answered 407 to CONNECT: as `authenticationRequired`, for the proxy's credentials. */
  proxyAuthenticationRequired: [proxy: ProxyConfiguration, authenticator: Authenticator];
};

/** `setProxy(ProxyFromEnvironment)`: the proxy of each `open()` is read from the environment as curl does (see environment-proxy.ts). */
export const ProxyFromEnvironment = 'environment' as const;

/** Defaults of the client's timers. */
export const ClientDefaults = {
  /** DNS, TCP connect, proxy tunnel and TLS together (Qt leaves it to the OS, which may take minutes). */
  connectTimeoutMs: 30_000,
  /** From the upgrade request written to the whole response read (the server's default, as Qt's). */
  handshakeTimeoutMs: 10_000,
  /** The closing handshake, see `EngineSocketBackend`. */
  closeTimeoutMs: DefaultCloseTimeoutMs,
  /** No automatic Ping on a client by default (Qt and browsers send none); the server pings. */
  idleTimeout: 0,
  pongTimeout: 0,
  /** Qt's: a frame or fragmented message that stops arriving for 5 s closes with 1001. */
  frameTimeout: 5000,
} as const;

export interface WebSocketOptions {
  /** The `Origin` request header; left out when empty (as Qt's constructor argument). */
  origin?: string;
  /** Qt's constructor argument: stored and returned by `version()`; the wire always says 13. */
  version?: Version;
  /** Qt's `setPauseMode()`, before `open()`. Default `PauseMode.PauseNever`. */
  pauseMode?: PauseMode;
  maxAllowedIncomingFrameSize?: number;
  maxAllowedIncomingMessageSize?: number;
  outgoingFrameSize?: number;
  maskGenerator?: MaskGenerator;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  closeTimeoutMs?: number;
  /** Ms without a byte from the peer before an automatic Ping; 0 (the client's default) disables. */
  idleTimeout?: number;
  /** Ms the peer has to answer the automatic Ping (with anything) before the connection closes with 1001; 0: never. */
  pongTimeout?: number;
  /** Ms a frame or fragmented message may stop arriving before the connection closes with 1001; default 5000 (Qt); 0 disables. */
  frameTimeout?: number;
  proxy?: ProxyConfiguration | typeof ProxyFromEnvironment | null;
  sslConfiguration?: SslConfiguration;
  /** Limits of `for await` before reading pauses. */
  messageQueue?: MessageQueueLimits;
}

/** Per-message options of `sendTextMessage`/`sendBinaryMessage`. */
export interface SendOptions {
  /** false: send this message uncompressed although permessage-deflate was negotiated (default true). */
  compress?: boolean;
  /**
   * false (`sendBinaryMessage`): a large message (over 16 KiB) is written from `data` itself, not
   * from a copy, so `data` must not change until it is written (`flush()` resolves, or
   * `bytesWritten` has counted it). Default true: the bytes are copied before the call returns,
   * and `data` may be reused at once. Small messages are copied either way, and so is anything
   * compressed or sent from the owner thread to a pool thread.
   */
  copy?: boolean;
}

/** Qt's `QNetworkRequest` for `open()`: a URL and raw headers. */
export interface OpenRequest {
  url: string | URL;
  headers?: Record<string, string> | Array<[string, string]>;
}

/** Qt's `QWebSocketHandshakeOptions`: what `handshakeOptions()` returns and `open()` accepts. */
export interface WebSocketHandshakeOptions {
  /** Offered in order of preference. */
  subprotocols: string[];
}

/** Qt's `QWebSocketHandshakeOptions`, plus what Node callers expect. */
export interface OpenOptions extends SslConfiguration {
  /** Offered in order of preference. */
  subprotocols?: string[];
  /** Extra request headers (merged after those of an `OpenRequest`). */
  headers?: Record<string, string> | Array<[string, string]>;
  /** Overrides the constructor's origin for this opening. */
  origin?: string;
  /**
   * permessage-deflate (RFC 7692): offered by default, as browsers and ws do (one offer,
   * `permessage-deflate; client_max_window_bits`); `false` offers nothing; options choose the
   * offers, the threshold and the level. Ignored when `extensions` is given.
   */
  deflate?: boolean | ClientDeflateOptions;
  /** Extensions to offer instead of the default (permessage-deflate). */
  extensions?: ExtensionFactory[];
  /** How many redirects to follow; default 0: a 3xx fails the opening with a clear error. */
  followRedirects?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Cancels the opening (not the connection once open). */
  signal?: AbortSignal;
}

/** The server's answer to the opening handshake. */
export interface HandshakeResponseInfo {
  status: number;
  statusText: string;
  headers: HeaderList;
  /** A refusal's body as text (its first 4 KiB, when it has a Content-Length); '' otherwise. */
  body: string;
}

/** A socket's request as Qt's `request()` gives it: the URL and every header. */
export interface RequestInfo {
  url: string;
  headers: HeaderList;
}

/** Values a server passes when wrapping one of its connections (the engine limits and timeouts it applied). */
export interface AdoptOptions extends Partial<LivenessTimeouts> {
  maxAllowedIncomingFrameSize?: number;
  maxAllowedIncomingMessageSize?: number;
  outgoingFrameSize?: number;
  messageQueue?: MessageQueueLimits;
  /** The server's topics, for `subscribe`/`publish` (a client socket has none). */
  topics?: TopicMembership;
}


function checkTimeout(name: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds >= 0 (0 or Infinity: no timeout); got ${String(value)}`);
  }
  return value;
}

function headerPairs(headers: Record<string, string> | Array<[string, string]> | undefined): Array<[string, string]> {
  if (headers === undefined) return [];
  return Array.isArray(headers) ? headers.map(([name, value]) => [name, value]) : Object.entries(headers);
}

const EmptyHeaders: HeaderList = [];
/** What a socket that never opened a connection offered: one list for all of them. */
const NoSubprotocols: readonly string[] = Object.freeze([]);
/**
 * The empty settings every socket that was given none shares (a server holds many): the socket
 * replaces its settings and never changes them in place.
 */
const NoSettings = Object.freeze({});
/** What `messages()` iterators listen with. */
type MessageListener = { message(message: Message): void; ended(error: WebSocketError | undefined): void };
const FrameSignals = new Set<string | symbol>(['textFrameReceived', 'binaryFrameReceived']);
const KnownVersions = new Set<number>(Object.values(Version));

/** A certificate check the application is deciding on (Qt's PauseOnSslErrors). */
interface SslPause {
  readonly errors: SslError[];
  readonly resolve: (proceed: boolean) => void;
}
/** What `opened()` gives a socket that was adopted already open (one promise for all of them). */
const Opened = Promise.resolve();
/** The signals a backend reports only while they have listeners. */
const OptionalSignals = new Map<string | symbol, number>([['pong', OptionalSignal.Pong], ['bytesWritten', OptionalSignal.BytesWritten]]);

/** An opening in progress. */
interface Attempt {
  readonly opening: ClientOpening;
  readonly resolve: () => void;
  readonly reject: (error: WebSocketError) => void;
}

function checkPauseMode(mode: PauseMode): PauseMode {
  if (mode !== PauseMode.PauseNever && mode !== PauseMode.PauseOnSslErrors) {
    throw new InvalidArgumentError(`pauseMode must be PauseMode.PauseNever or PauseMode.PauseOnSslErrors; got ${String(mode)}`);
  }
  return mode;
}

/**
 * What only a client socket has: its settings for `open()` and the state of its opening. A
 * server holds many sockets and none of this, so a server-side socket has none until it is used
 * as a client (or one of these settings is set on it).
 */
class ClientSide {
  /** The `Origin` the next `open()` sends ('' for none). */
  origin: string;
  version: Version;
  pauseMode: PauseMode;
  /** undefined: the built-in one, made when first needed. */
  maskGenerator: MaskGenerator | undefined;
  customMaskGenerator: boolean;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  proxy: ProxyConfiguration | typeof ProxyFromEnvironment | null;
  ssl: SslConfiguration;
  ignoreAllSslErrors = false;
  ignoredSslErrors: ReadonlySet<string> | undefined = undefined;
  attempt: Attempt | undefined = undefined;
  target: ClientTarget | undefined = undefined;
  response: HandshakeResponseInfo | undefined = undefined;
  /** The subprotocols the last `open()` was given (Qt's `handshakeOptions()`). */
  offeredSubprotocols: readonly string[] = NoSubprotocols;
  sslPause: SslPause | undefined = undefined;
  handshakeContinued = false;

  constructor(settings: WebSocketOptions) {
    this.origin = settings.origin ?? '';
    this.version = settings.version ?? Version.Latest;
    if (!KnownVersions.has(this.version)) throw new InvalidArgumentError(`version must be one of Version's values; got ${String(settings.version)}`);
    this.pauseMode = checkPauseMode(settings.pauseMode ?? PauseMode.PauseNever);
    this.maskGenerator = settings.maskGenerator;
    this.customMaskGenerator = settings.maskGenerator !== undefined;
    this.maskGenerator?.seed?.();
    this.connectTimeoutMs = checkTimeout('connectTimeoutMs', settings.connectTimeoutMs ?? ClientDefaults.connectTimeoutMs);
    this.handshakeTimeoutMs = checkTimeout('handshakeTimeoutMs', settings.handshakeTimeoutMs ?? ClientDefaults.handshakeTimeoutMs);
    this.proxy = settings.proxy ?? null;
    this.ssl = settings.sslConfiguration === undefined ? NoSettings : { ...settings.sslConfiguration };
  }
}

/** What a server-side socket reads for its client settings (frozen: a write must make its own). */
const ServerSideDefaults: Readonly<ClientSide> = Object.freeze(new ClientSide({}));

/**
 * How a socket's connection ended, and its last error. Written only when a connection ends or
 * fails, so a socket that is open holds the one frozen NotEnded (a server's sockets mostly are)
 * and gets one of its own with the first write.
 */
class EndState {
  /** RFC 6455 7.1.5; see `closeCode()`. */
  closeCode: number = CloseCode.Normal;
  closeReason = '';
  error: SocketError = SocketError.UnknownSocket;
  errorString = '';
  /** What ended the connection or its opening, for the iterators that end with it. */
  connectionError: WebSocketError | undefined = undefined;
  aboutToCloseEmitted = false;
}

const NotEnded: Readonly<EndState> = Object.freeze(new EndState());

/** A socket's limits and timeouts: what a server's sockets have alike. */
interface SocketSettings extends LivenessTimeouts {
  maxAllowedIncomingFrameSize: number;
  maxAllowedIncomingMessageSize: number;
  outgoingFrameSize: number;
  closeTimeoutMs: number;
  readBufferSize: number;
  messageQueue: Readonly<MessageQueueLimits>;
}

let lastSettings: Readonly<SocketSettings> | undefined;

/**
 * The settings `options` ask for, checked, as one frozen object: the last socket's when they are
 * equal. A server's sockets are made one after another with its settings, and each would
 * otherwise hold these nine values of its own; a setter gives its socket a copy
 * (`#changeSettings`).
 */
function socketSettings(options: WebSocketOptions): Readonly<SocketSettings> {
  const maxAllowedIncomingFrameSize = options.maxAllowedIncomingFrameSize ?? Defaults.maxAllowedIncomingFrameSize;
  const maxAllowedIncomingMessageSize = options.maxAllowedIncomingMessageSize ?? Defaults.maxAllowedIncomingMessageSize;
  const outgoingFrameSize = options.outgoingFrameSize ?? Defaults.outgoingFrameSize;
  const closeTimeoutMs = options.closeTimeoutMs ?? ClientDefaults.closeTimeoutMs;
  const idleTimeout = options.idleTimeout ?? ClientDefaults.idleTimeout;
  const pongTimeout = options.pongTimeout ?? ClientDefaults.pongTimeout;
  const frameTimeout = options.frameTimeout ?? ClientDefaults.frameTimeout;
  const queue = options.messageQueue;
  const last = lastSettings;
  // Values equal to ones already checked are valid.
  if (last !== undefined && last.maxAllowedIncomingFrameSize === maxAllowedIncomingFrameSize
    && last.maxAllowedIncomingMessageSize === maxAllowedIncomingMessageSize && last.outgoingFrameSize === outgoingFrameSize
    && last.closeTimeoutMs === closeTimeoutMs && last.idleTimeout === idleTimeout && last.pongTimeout === pongTimeout
    && last.frameTimeout === frameTimeout
    && last.messageQueue.maxQueuedMessages === queue?.maxQueuedMessages && last.messageQueue.maxQueuedBytes === queue?.maxQueuedBytes) return last;
  return (lastSettings = Object.freeze({
    maxAllowedIncomingFrameSize: checkLimit('maxAllowedIncomingFrameSize', maxAllowedIncomingFrameSize),
    maxAllowedIncomingMessageSize: checkLimit('maxAllowedIncomingMessageSize', maxAllowedIncomingMessageSize),
    outgoingFrameSize: checkLimit('outgoingFrameSize', outgoingFrameSize),
    closeTimeoutMs: checkTimeout('closeTimeoutMs', closeTimeoutMs),
    idleTimeout: checkTimeoutMs('idleTimeout', idleTimeout),
    pongTimeout: checkTimeoutMs('pongTimeout', pongTimeout),
    frameTimeout: checkTimeoutMs('frameTimeout', frameTimeout),
    readBufferSize: 0,
    messageQueue: queue === undefined ? NoSettings : Object.freeze({ ...queue }),
  }));
}

/**
 * Qt's `QWebSocket`: one class for client sockets (`open()`), server-side sockets and sockets
 * inside worker threads (`WebSocket.adopt()`), and the owner-side mirror of a worker's socket.
 * It keeps the state and the signals; a `SocketBackend` moves the bytes.
 *
 * Differences from Qt, on purpose: `closeCode()` follows RFC 6455 7.1.5 (1005 when the peer's
 * Close had no code, 1006 when the connection ended without one); a failed opening ends in
 * `Unconnected` with `disconnected`; `aboutToClose` fires once; sizes out of range throw.
 */
export class WebSocket extends ShapedEmitter<WebSocketEvents> {
  #state: State = State.Unconnected;
  #backend: SocketBackend | undefined;
  /** The sink of the current backend; a backend left behind holds another and is not heard. */
  #backendSink: SocketSink | undefined;
  #opened: Promise<void> | undefined;
  /** What only a client socket has; undefined for a server's (made if one is used as a client). */
  #client: ClientSide | undefined;
  /** Set while `adopt` constructs a server-side socket, which gets no ClientSide. */
  static #adopting = false;
  #info: ConnectionInfo | undefined;
  /** NotEnded until the first end or error (see EndState). */
  #end: Readonly<EndState> = NotEnded;

  /** Shared with the sockets made with the same (see socketSettings). */
  #settings: Readonly<SocketSettings>;

  #userPaused = false;
  #holds = 0;
  #frameSignals = false;
  #optionalSignals = 0;
  #topics: TopicMembership | undefined;
  /** Made on the first subscribe: most sockets never have one. */
  #subscriptions: Set<string> | undefined;
  /** Made for the first `messages()` iterator. */
  #messageListeners: Set<MessageListener> | undefined;

  constructor(options: WebSocketOptions | string = {}) {
    super();
    const settings = typeof options === 'string' ? { origin: options } : options;
    this.#client = WebSocket.#adopting ? undefined : new ClientSide(settings);
    this.#settings = socketSettings(settings);
    // Shared functions, not closures: a server holds many sockets.
    this.on('newListener', WebSocket.#onNewListener);
    this.on('removeListener', WebSocket.#onRemoveListener);
  }

  /** The client settings and opening state, or a server-side socket's defaults (read only). */
  get #clientSide(): Readonly<ClientSide> {
    return this.#client ?? ServerSideDefaults;
  }

  /** This socket's own ClientSide, made for a server-side socket the first time one is set. */
  #ownClient(): ClientSide {
    return (this.#client ??= new ClientSide({}));
  }

  /**
   * Frame signals cost decoding time, and Pongs and bytesWritten a crossing from another thread,
   * so the backend reports them only while someone listens.
   */
  static #onNewListener(this: WebSocket, event: string | symbol): void {
    if (FrameSignals.has(event)) queueMicrotask(() => this.#updateFrameSignals());
    // At once, not once the listener is in (a microtask later): a write that completes in
    // between, such as a flush() right after, must already count for the new listener.
    else if (OptionalSignals.has(event)) this.#setOptionalSignals(this.#optionalSignals | OptionalSignals.get(event)!);
  }

  static #onRemoveListener(this: WebSocket, event: string | symbol): void {
    if (FrameSignals.has(event)) this.#updateFrameSignals();
    else if (OptionalSignals.has(event)) this.#updateOptionalSignals();
  }

  /**
   * Wraps an established connection (server side, or inside a worker): the socket starts
   * `Connected`. The backend must not have been attached; events flow from the next turn.
   */
  static adopt(backend: SocketBackend, info: ConnectionInfo, options: AdoptOptions = {}): WebSocket {
    WebSocket.#adopting = true;
    let socket: WebSocket;
    try {
      socket = new WebSocket({
        maxAllowedIncomingFrameSize: options.maxAllowedIncomingFrameSize,
        maxAllowedIncomingMessageSize: options.maxAllowedIncomingMessageSize,
        outgoingFrameSize: options.outgoingFrameSize,
        messageQueue: options.messageQueue,
        // A server connection runs with the server's timeouts; none given: none runs.
        idleTimeout: options.idleTimeout ?? 0,
        pongTimeout: options.pongTimeout ?? 0,
        frameTimeout: options.frameTimeout ?? 0,
      });
    } finally {
      WebSocket.#adopting = false;
    }
    socket.#info = info;
    socket.#topics = options.topics;
    socket.#state = State.Connected;
    socket.#opened = Opened;
    socket.#useBackend(backend);
    return socket;
  }

  // ---- opening ------------------------------------------------------------------------------

  /**
   * Qt's `open(url)` / `open(request, options)`. Returns a promise of the connection (also given
   * by `opened()`); it is already marked handled, so a caller that only listens to signals gets
   * no unhandled rejection. Bad headers, origin or subprotocols throw InvalidArgumentError here;
   * every other failure is a WebSocketError through `errorOccurred` and the promise.
   */
  open(url: string | URL | OpenRequest, options: OpenOptions = {}): Promise<void> {
    const request: OpenRequest = typeof url === 'string' || url instanceof URL ? { url } : url;
    const followRedirects = options.followRedirects ?? 0;
    if (!Number.isInteger(followRedirects) || followRedirects < 0) {
      throw new InvalidArgumentError(`followRedirects must be an integer >= 0; got ${String(followRedirects)}`);
    }
    const connectTimeoutMs = checkTimeout('connectTimeoutMs', options.connectTimeoutMs ?? this.#clientSide.connectTimeoutMs);
    const handshakeTimeoutMs = checkTimeout('handshakeTimeoutMs', options.handshakeTimeoutMs ?? this.#clientSide.handshakeTimeoutMs);
    const offeredSubprotocols = [...(options.subprotocols ?? [])];
    const subprotocols = [...offeredSubprotocols];
    const extraHeaders: Array<[string, string]> = [];
    for (const header of [...headerPairs(request.headers), ...headerPairs(options.headers)]) {
      if (header[0].toLowerCase() !== 'sec-websocket-protocol') {
        extraHeaders.push(header);
        continue;
      }
      // Qt merges a raw Sec-WebSocket-Protocol header into the offer, after the option's names.
      for (const name of parseCommaList(header[1])) {
        if (!subprotocols.includes(name)) subprotocols.push(name);
      }
    }
    const origin = options.origin ?? this.#clientSide.origin;
    const deflate = options.deflate ?? true;
    const extensions = options.extensions ?? (deflate === false ? [] : [clientPerMessageDeflate(deflate === true ? {} : deflate)]);

    let target: ClientTarget;
    try {
      target = parseClientUrl(request.url);
    } catch (error) {
      if (!(error instanceof WebSocketError)) throw error;
      // As Qt: a bad URL is reported (on the next tick) and changes nothing else, not even an
      // existing connection.
      const failed = Promise.reject(error);
      failed.catch(() => {});
      if (this.#state === State.Unconnected) this.#opened = failed;
      const attempt = this.#clientSide.attempt;
      const sink = this.#backendSink;
      process.nextTick(() => {
        if (attempt === this.#clientSide.attempt && sink === this.#backendSink) this.#reportError(error);
      });
      return failed;
    }
    // Validates headers, origin and subprotocols (and a proxy URL from the environment) before anything is touched.
    buildUpgradeRequest({ origin, subprotocols, headers: extraHeaders, extensions }, target);
    const client = this.#ownClient();
    const proxy = client.proxy === ProxyFromEnvironment ? proxyFromEnvironment(target) : client.proxy;

    this.#dropConnection();
    client.offeredSubprotocols = offeredSubprotocols;
    client.response = undefined;
    this.#info = undefined;
    client.target = target;
    if (this.#end !== NotEnded) {
      const end = this.#ownEnd();
      end.connectionError = undefined;
      end.aboutToCloseEmitted = false;
    }
    let resolve!: () => void;
    let reject!: (error: WebSocketError) => void;
    const opened = new Promise<void>((resolveOpened, rejectOpened) => {
      resolve = resolveOpened;
      reject = rejectOpened;
    });
    opened.catch(() => {});
    this.#opened = opened;

    const userSignal = options.signal;
    if (userSignal?.aborted) {
      reject(this.#abortedError(userSignal.reason));
      return opened;
    }
    // Reports from an opening that was cancelled or replaced are not heard.
    const isCurrent = (): boolean => client.attempt?.opening === opening;
    const ssl: SslConfiguration = { ...client.ssl };
    for (const key of ['ca', 'cert', 'key', 'passphrase', 'servername', 'minVersion', 'maxVersion', 'ciphers', 'handshakeMustInterruptOnError'] as const) {
      if (options[key] !== undefined) (ssl as Record<string, unknown>)[key] = options[key];
    }
    const settings = this.#settings;
    const opening = new ClientOpening({
      target,
      origin,
      subprotocols,
      headers: extraHeaders,
      extensions,
      ssl,
      proxy,
      connectTimeoutMs,
      handshakeTimeoutMs,
      followRedirects,
      maxHandshakeHeaderSize: Defaults.maxHandshakeHeaderSize,
      sslErrors: (errors) => isCurrent() && this.#onSslErrors(errors),
      alertReceived: (alert) => isCurrent() && this.emit('alertReceived', alert.level, alert.type, alert.description),
      preSharedKeyAuthenticationRequired: this.listenerCount('preSharedKeyAuthenticationRequired') === 0 ? undefined
        : (authenticator) => isCurrent() && this.emit('preSharedKeyAuthenticationRequired', authenticator),
      authenticationRequired: this.listenerCount('authenticationRequired') === 0 ? undefined
        : (authenticator) => isCurrent() && this.emit('authenticationRequired', authenticator),
      proxyAuthenticationRequired: this.listenerCount('proxyAuthenticationRequired') === 0 ? undefined
        : (proxy, authenticator) => isCurrent() && this.emit('proxyAuthenticationRequired', proxy, authenticator),
      onResponse: (response, responseTarget, body) => {
        if (!isCurrent()) return;
        client.response = { status: response.status, statusText: response.statusText, headers: response.rawHeaders, body };
        client.target = responseTarget;
      },
    }, {
      maxAllowedIncomingFrameSize: settings.maxAllowedIncomingFrameSize,
      maxAllowedIncomingMessageSize: settings.maxAllowedIncomingMessageSize,
      outgoingFrameSize: settings.outgoingFrameSize,
      maskGenerator: this.maskGenerator(),
      closeTimeoutMs: settings.closeTimeoutMs,
      idleTimeout: settings.idleTimeout,
      pongTimeout: settings.pongTimeout,
      frameTimeout: settings.frameTimeout,
    });
    const attempt: Attempt = { opening, resolve, reject };
    client.attempt = attempt;
    const onUserAbort = (): void => {
      if (client.attempt === attempt) this.#cancelOpening(this.#abortedError(userSignal!.reason));
    };
    userSignal?.addEventListener('abort', onUserAbort, { once: true });
    this.#setState(State.Connecting);
    opening.connection.then(
      (connection) => {
        userSignal?.removeEventListener('abort', onUserAbort);
        if (client.attempt !== attempt) {
          connection.socket.destroy();
          return;
        }
        client.attempt = undefined;
        client.target = connection.target;
        this.#info = connection.info;
        this.#useBackend(connection.backend);
        unguardErrors(connection.socket);
        this.#setState(State.Connected);
        attempt.resolve();
        if (this.#state === State.Connected) this.emit('connected');
      },
      (error: unknown) => {
        userSignal?.removeEventListener('abort', onUserAbort);
        if (client.attempt !== attempt) return;
        client.sslPause = undefined;
        const failure = error instanceof WebSocketError ? error : new WebSocketError(SocketError.UnknownSocket, error instanceof Error ? error.message : String(error));
        client.attempt = undefined;
        this.#setClose(CloseCode.AbnormalDisconnection, '');
        // An iteration started during the opening ends with this error.
        this.#ownEnd().connectionError = failure;
        attempt.reject(failure);
        this.#reportError(failure);
        this.#finishDisconnect();
      },
    );
    return opened;
  }

  /** Resolves once `Connected`; rejects with the WebSocketError that ended the last opening. */
  opened(): Promise<void> {
    if (this.#opened === undefined) {
      const never = Promise.reject(new WebSocketError(SocketError.Operation, 'open() has not been called'));
      never.catch(() => {});
      return never;
    }
    return this.#opened;
  }

  #abortedError(reason: unknown): WebSocketError {
    const error = new WebSocketError(SocketError.Operation, 'Opening was aborted');
    (error as { cause?: unknown }).cause = reason;
    return error;
  }

  /** Ends an opening in progress at the caller's request: no errorOccurred, straight to Unconnected. */
  #cancelOpening(error: WebSocketError): void {
    const client = this.#client;
    const attempt = client?.attempt;
    if (attempt === undefined) return;
    client!.attempt = undefined;
    this.#endSslPause();
    attempt.opening.cancel(error);
    attempt.reject(error);
    this.#setClose(CloseCode.AbnormalDisconnection, '');
    this.#finishDisconnect();
  }

  /** Qt: "an existing socket is dropped without a closing handshake" when open() is called again. */
  #dropConnection(): void {
    if (this.#state === State.Unconnected) return;
    if (this.#clientSide.attempt !== undefined) {
      this.#cancelOpening(new WebSocketError(SocketError.Operation, 'Opening replaced by a new open()'));
      return;
    }
    const backend = this.#backend;
    // Whatever the dropped backend still reports is not ours any more.
    this.#backendSink = undefined;
    backend?.abort();
    this.#setClose(CloseCode.AbnormalDisconnection, '');
    this.#finishDisconnect();
  }

  /**
   * Qt's order: each failure as `peerVerifyError` (and, when asked for, `handshakeInterruptedOnError`,
   * which ends the opening unless a listener continues it), then `sslErrors` with all of them.
   * Unless they are ignored by then, PauseOnSslErrors waits for `resume()`; otherwise the opening fails.
   */
  #onSslErrors(errors: SslError[]): boolean | Promise<boolean> {
    // Only an opening has TLS errors, and only a client opens.
    const client = this.#ownClient();
    for (const error of errors) {
      this.emit('peerVerifyError', error);
      if (client.ssl.handshakeMustInterruptOnError !== true) continue;
      client.handshakeContinued = false;
      this.emit('handshakeInterruptedOnError', error);
      if (!client.handshakeContinued) return false;
    }
    this.emit('sslErrors', errors);
    if (this.#sslErrorsIgnored(errors)) return true;
    if ((client.pauseMode & PauseMode.PauseOnSslErrors) === 0) return false;
    return new Promise((resolve) => { client.sslPause = { errors, resolve }; });
  }

  #sslErrorsIgnored(errors: SslError[]): boolean {
    return this.#clientSide.ignoreAllSslErrors || errors.every((error) => this.#clientSide.ignoredSslErrors?.has(error.code) === true);
  }

  /** A pause on TLS errors ends with the opening: it cannot go on. */
  #endSslPause(): void {
    const client = this.#client;
    if (client?.sslPause === undefined) return;
    const pause = client.sslPause;
    client.sslPause = undefined;
    pause.resolve(false);
  }

  // ---- the backend ------------------------------------------------------------------------

  #useBackend(backend: SocketBackend): void {
    this.#backend = backend;
    if (this.#frameSignals) backend.setFrameSignals(true);
    if (this.#optionalSignals !== 0) backend.setOptionalSignals(this.#optionalSignals);
    if (this.#userPaused || this.#holds > 0) backend.pause();
    const sink = new WebSocket.#BackendSink(this);
    this.#backendSink = sink;
    backend.attach(sink);
  }

  /**
   * The sink of one backend: one object per connection, no closures. It speaks for the socket
   * only while it is the socket's current sink, so a backend that was dropped (by a new
   * `open()`) cannot touch the socket's state.
   */
  static readonly #BackendSink = class BackendSink implements SocketSink {
    readonly socket: WebSocket;

    constructor(socket: WebSocket) {
      this.socket = socket;
    }

    get #live(): boolean {
      return this.socket.#backendSink === this;
    }

    connected(info: ConnectionInfo): void {
      const socket = this.socket;
      if (!this.#live || socket.#state !== State.Connecting) return;
      socket.#info = info;
      socket.#setState(State.Connected);
      // A stateChanged listener may have closed the socket already.
      if ((socket.#state as State) === State.Connected) socket.emit('connected');
    }

    textMessage(text: string): void {
      if (!this.#live) return;
      const socket = this.socket;
      socket.emit('textMessageReceived', text);
      const listeners = socket.#messageListeners;
      if (listeners !== undefined) for (const listener of listeners) listener.message(text);
    }

    binaryMessage(data: Uint8Array): void {
      if (!this.#live) return;
      const socket = this.socket;
      const message = asBuffer(data);
      socket.emit('binaryMessageReceived', message);
      const listeners = socket.#messageListeners;
      if (listeners !== undefined) for (const listener of listeners) listener.message(message);
    }

    textFrame(text: string, isLast: boolean): void {
      if (this.#live) this.socket.emit('textFrameReceived', text, isLast);
    }

    binaryFrame(data: Uint8Array, isLast: boolean): void {
      if (this.#live) this.socket.emit('binaryFrameReceived', asBuffer(data), isLast);
    }

    pong(elapsedMs: number, payload: Uint8Array): void {
      if (this.#live) this.socket.emit('pong', elapsedMs, asBuffer(payload));
    }

    bytesWritten(bytes: number): void {
      if (this.#live) this.socket.emit('bytesWritten', bytes);
    }

    error(error: WebSocketError): void {
      if (!this.#live) return;
      this.socket.#ownEnd().connectionError ??= error;
      this.socket.#reportError(error);
    }

    readChannelFinished(): void {
      if (this.#live) this.socket.emit('readChannelFinished');
    }

    closing(): void {
      const socket = this.socket;
      if (!this.#live || socket.#state !== State.Connected) return;
      socket.#emitAboutToClose();
      socket.#setState(State.Closing);
    }

    disconnected(code: number, reason: string): void {
      if (!this.#live) return;
      const socket = this.socket;
      socket.#backendSink = undefined;
      socket.#setClose(code, reason);
      socket.#finishDisconnect();
    }
  };

  /** Every way into Unconnected ends here: aboutToClose (once, if the connection opened), state, disconnected, iterators. */
  #finishDisconnect(): void {
    const wasOpen = this.#backend !== undefined;
    this.#backend = undefined;
    this.#leaveTopics();
    if (this.#state === State.Unconnected) return;
    if (wasOpen) this.#emitAboutToClose();
    this.#setState(State.Unconnected);
    this.emit('disconnected');
    const error = this.#end.connectionError;
    if (this.#messageListeners !== undefined) for (const listener of [...this.#messageListeners]) listener.ended(error);
  }

  #emitAboutToClose(): void {
    if (this.#end.aboutToCloseEmitted) return;
    this.#ownEnd().aboutToCloseEmitted = true;
    this.emit('aboutToClose');
  }

  #setState(state: State): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('stateChanged', state);
  }

  /** This socket's own EndState, made on the first write. */
  #ownEnd(): EndState {
    return this.#end === NotEnded ? (this.#end = new EndState()) : (this.#end as EndState);
  }

  #setClose(code: number, reason: string): void {
    const end = this.#ownEnd();
    end.closeCode = code;
    end.closeReason = reason;
  }

  #reportError(error: WebSocketError): void {
    const end = this.#ownEnd();
    end.error = error.kind;
    end.errorString = error.message;
    this.emit('errorOccurred', error);
  }

  #updateFrameSignals(): void {
    const wanted = this.listenerCount('textFrameReceived') + this.listenerCount('binaryFrameReceived') > 0;
    if (wanted === this.#frameSignals) return;
    this.#frameSignals = wanted;
    this.#backend?.setFrameSignals(wanted);
  }

  #updateOptionalSignals(): void {
    let wanted = 0;
    for (const [event, bit] of OptionalSignals) if (this.listenerCount(event) > 0) wanted |= bit;
    this.#setOptionalSignals(wanted);
  }

  #setOptionalSignals(wanted: number): void {
    if (wanted === this.#optionalSignals) return;
    this.#optionalSignals = wanted;
    this.#backend?.setOptionalSignals(wanted);
  }

  #applyPause(): void {
    const backend = this.#backend;
    if (backend === undefined) return;
    if (this.#userPaused || this.#holds > 0) backend.pause();
    else backend.resume();
  }

  // ---- closing ----------------------------------------------------------------------------

  /**
   * Starts the closing handshake: a Close with `code` and `reason` (cut to 123 bytes of UTF-8),
   * then `disconnected` once the peer answered and TCP ended (or the close timeout passed).
   * During an opening, cancels it. Codes that may not be sent (1004, 1006, 1015, outside
   * 1000-4999) throw InvalidArgumentError; 1005 sends a Close without a code.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    checkCloseToSend(code, reason);
    if (this.#state === State.Connecting) {
      this.#cancelOpening(new WebSocketError(SocketError.Operation, 'close() called before the connection was open'));
      return;
    }
    if (this.#state !== State.Connected) return;
    this.#setClose(code, reason);
    this.#emitAboutToClose();
    this.#setState(State.Closing);
    this.#backend?.close(code, reason);
  }

  /**
   * `await using socket = new WebSocket()`: as Qt's destructor, a connected socket is closed with
   * 1001 ("Connection closed"); resolves once it is `Unconnected`. An opening is cancelled.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === State.Unconnected) return;
    const disconnected = new Promise<void>((resolve) => this.once('disconnected', () => resolve()));
    if (this.#state === State.Connected) this.close(CloseCode.GoingAway, 'Connection closed');
    else if (this.#state === State.Connecting) this.abort();
    await disconnected;
  }

  /** Drops the connection at once, discarding unsent data, with no closing handshake. */
  abort(): void {
    if (this.#state === State.Connecting) {
      this.#cancelOpening(new WebSocketError(SocketError.Operation, 'abort() called before the connection was open'));
      return;
    }
    this.#backend?.abort();
  }

  // ---- sending ----------------------------------------------------------------------------

  /**
   * Payload bytes queued (UTF-8 length); 0 unless `Connected`. Goes out at the end of this turn.
   * `{ compress: false }` sends this message uncompressed even when permessage-deflate is on.
   */
  sendTextMessage(message: string, options?: SendOptions): number {
    if (typeof message !== 'string') throw new InvalidArgumentError('sendTextMessage() takes a string');
    if (this.#state !== State.Connected) return 0;
    return this.#backend!.sendText(message, options?.compress !== false);
  }

  /**
   * Payload bytes queued; 0 unless `Connected`. The bytes are framed before this returns, unless
   * `options.copy` is false (see SendOptions).
   */
  sendBinaryMessage(data: Uint8Array | ArrayBuffer, options?: SendOptions): number {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('sendBinaryMessage() takes a Uint8Array or ArrayBuffer');
    if (this.#state !== State.Connected) return 0;
    return this.#backend!.sendBinary(bytes, options?.compress !== false, options?.copy === false);
  }

  /** A Ping (payload cut to 125 bytes); `pong` reports the answer with the time since this call. */
  ping(payload: Uint8Array | string = new Uint8Array(0)): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (this.#state !== State.Connected && this.#state !== State.Closing) return;
    this.#backend?.ping(bytes);
  }

  /** Resolves when everything queued has been handed to the OS (Qt's `flush()`, asynchronous). */
  flush(): Promise<void> {
    return this.#backend?.flush() ?? Promise.resolve();
  }

  /**
   * Stops reading from the socket: TCP pushes back on the peer until `resumeReading()`. (Qt has
   * no such call on QWebSocket; its `resume()` is the TLS one below.)
   */
  pauseReading(): void {
    this.#userPaused = true;
    this.#applyPause();
  }

  resumeReading(): void {
    this.#userPaused = false;
    this.#applyPause();
  }

  /**
   * Qt's `resume()`: goes on with an opening paused on TLS errors (PauseOnSslErrors), if they are
   * ignored by now (`ignoreSslErrors()`); otherwise the opening fails. Does nothing when not paused.
   */
  resume(): void {
    const client = this.#client;
    const pause = client?.sslPause;
    if (pause === undefined) return;
    client!.sslPause = undefined;
    pause.resolve(this.#sslErrorsIgnored(pause.errors));
  }

  /**
   * Qt's `readBufferSize()`: the most bytes received from the peer and not yet taken by the
   * application; 0 (the default, as Qt's) is no bound. Signal listeners take every message as it
   * is read, so nothing waits for them; what waits is a `for await` iteration's queue, and beyond
   * this bound (or its own `maxQueuedBytes`) reading from the socket stops, so TCP pushes back on
   * the peer (in a pool thread too), until the consumer has caught up to half of it.
   */
  readBufferSize(): number {
    return this.#settings.readBufferSize;
  }

  setReadBufferSize(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new InvalidArgumentError(`readBufferSize must be an integer >= 0 (0: no bound); got ${String(bytes)}`);
    this.#changeSettings('readBufferSize', bytes);
  }

  /** Whether an opening is waiting for `resume()` after `sslErrors`. */
  isPausedOnSslErrors(): boolean {
    return this.#clientSide.sslPause !== undefined;
  }

  pauseMode(): PauseMode {
    return this.#clientSide.pauseMode;
  }

  /**
   * Qt's `setPauseMode()`: applies from the next `open()`'s TLS handshake. A pause counts against
   * the connect timeout, so an opening nobody resumes still ends.
   */
  setPauseMode(mode: PauseMode): void {
    this.#ownClient().pauseMode = checkPauseMode(mode);
  }

  /**
   * Qt's `continueInterruptedHandshake()`: called from a `handshakeInterruptedOnError` listener,
   * lets the opening go on past that verification failure (it is still listed in `sslErrors`).
   */
  continueInterruptedHandshake(): void {
    this.#ownClient().handshakeContinued = true;
  }

  // ---- topics (publish/subscribe, as uWebSockets.js and Bun) --------------------------------

  /**
   * Joins `topic`: from now on this socket gets every message published to it, from any socket
   * of the server on any thread (and over Redis when the server has it), except its own. Returns
   * false if it was subscribed already or is not `Connected`. Subscriptions end with the
   * connection. Only server-side sockets have topics: a client socket throws.
   */
  subscribe(topic: string): boolean {
    const topics = this.#topicMembership();
    checkTopic(topic);
    if (this.#state !== State.Connected) return false;
    const subscriptions = (this.#subscriptions ??= new Set());
    if (subscriptions.has(topic)) return false;
    subscriptions.add(topic);
    topics.subscribe(topic);
    return true;
  }

  /** Leaves `topic`; returns whether this socket was subscribed to it. */
  unsubscribe(topic: string): boolean {
    const topics = this.#topicMembership();
    checkTopic(topic);
    if (this.#subscriptions?.delete(topic) !== true) return false;
    topics.unsubscribe(topic);
    return true;
  }

  isSubscribed(topic: string): boolean {
    return this.#subscriptions?.has(topic) ?? false;
  }

  /** The topics this socket is subscribed to, in the order it joined them. */
  subscriptions(): string[] {
    return this.#subscriptions === undefined ? [] : [...this.#subscriptions];
  }

  /**
   * Sends `message` (a string: text; bytes: binary) to every other subscriber of `topic`; this
   * socket need not be one. The message is framed once for all of them before this returns (the
   * caller may reuse its buffer). Returns false, sending nothing, unless `Connected`.
   */
  publish(topic: string, message: string | Uint8Array | ArrayBuffer): boolean {
    const topics = this.#topicMembership();
    checkTopic(topic);
    const payload = publishedPayload(message);
    if (this.#state !== State.Connected) return false;
    topics.publish(topic, payload);
    return true;
  }

  #topicMembership(): TopicMembership {
    if (this.#topics === undefined) throw new WebSocketError(SocketError.Operation, 'Topics belong to a WebSocketServer: this socket has none (a client socket, or the lifecycle view of a handler-mode connection)');
    return this.#topics;
  }

  #leaveTopics(): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions === undefined) return;
    this.#subscriptions = undefined;
    for (const topic of subscriptions) this.#topics!.unsubscribe(topic);
  }

  // ---- async iteration --------------------------------------------------------------------

  /** Messages as they arrive (text as string, binary as Buffer), ending at disconnection. */
  messages(limits: MessageQueueLimits = this.#settings.messageQueue): MessageIterator {
    const ended = this.#state === State.Unconnected;
    return new MessageIterator({
      subscribe: (listener) => {
        const listeners = (this.#messageListeners ??= new Set());
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      hold: () => {
        this.#holds++;
        this.#applyPause();
      },
      release: () => {
        this.#holds--;
        this.#applyPause();
      },
      readBufferSize: () => this.#settings.readBufferSize,
    }, limits, ended);
  }

  [Symbol.asyncIterator](): MessageIterator {
    return this.messages();
  }

  // ---- state and connection info ------------------------------------------------------------

  state(): State {
    return this.#state;
  }

  isValid(): boolean {
    return this.#state === State.Connected;
  }

  /** RFC 6455 7.1.5: the peer's code (1005 if its Close had none), 1006 if no Close arrived; 1000 before any connection. */
  closeCode(): number {
    return this.#end.closeCode;
  }

  closeReason(): string {
    return this.#end.closeReason;
  }

  /** The kind of the last error; `UnknownSocket` before any. */
  error(): SocketError {
    return this.#end.error;
  }

  /** The message of the last error; '' before any. Not cleared by a new `open()` (as Qt). */
  errorString(): string {
    return this.#end.errorString;
  }

  origin(): string {
    return this.#info?.origin ?? this.#clientSide.origin;
  }

  requestUrl(): string {
    return this.#info?.requestUrl ?? this.#clientSide.target?.url ?? '';
  }

  resourceName(): string {
    return this.#info?.resourceName ?? this.#clientSide.target?.resourceName ?? '';
  }

  request(): RequestInfo {
    return { url: this.requestUrl(), headers: this.#info === undefined ? EmptyHeaders : headerListOf(this.#info.requestHeaders) };
  }

  /**
   * Server side: what the server's upgrade handler attached when it accepted this connection
   * (a user id, roles), the same value in the owner's socket and in a handler module's; undefined
   * without one, and on the client side.
   */
  attachment<T = unknown>(): T | undefined {
    return this.#info?.attachment as T | undefined;
  }

  /**
   * Server side, on a secure server with a peerVerifyMode other than VerifyNone: the client's
   * certificate (Qt's `sslConfiguration().peerCertificate()`); null when it sent none.
   */
  peerCertificate(): PeerCertificate | null {
    return this.#info?.peerCertificate ?? null;
  }

  subprotocol(): string {
    return this.#info?.subprotocol ?? '';
  }

  /** The constructor's version (Qt); 13 on the server side. The wire always says 13. */
  version(): Version {
    return this.#clientSide.version;
  }

  /**
   * Qt's `handshakeOptions()`: client side, the subprotocols given to the last `open()`; server
   * side, every subprotocol the client offered, in its order.
   */
  handshakeOptions(): WebSocketHandshakeOptions {
    if (this.#clientSide.target !== undefined || this.#info === undefined) return { subprotocols: [...this.#clientSide.offeredSubprotocols] };
    const offered: string[] = [];
    for (const [name, value] of headerListOf(this.#info.requestHeaders)) {
      if (name.toLowerCase() === 'sec-websocket-protocol') offered.push(...parseCommaList(value));
    }
    return { subprotocols: offered };
  }

  /**
   * The negotiated extensions as agreed in the handshake, one `Sec-WebSocket-Extensions` element
   * each (as a browser's `WebSocket.extensions`), e.g. `permessage-deflate; client_max_window_bits=15`.
   */
  extensions(): readonly string[] {
    return this.#info?.extensions ?? [];
  }

  /** The server's handshake response (client side), after success or failure; undefined before one was read. */
  handshakeResponse(): HandshakeResponseInfo | undefined {
    return this.#clientSide.response;
  }

  peerAddress(): string {
    return this.#info?.peerAddress ?? '';
  }

  peerPort(): number {
    return this.#info?.peerPort ?? 0;
  }

  /** The host named in the URL, from `open()` on (as Qt); the peer's address on the server side. */
  peerName(): string {
    return this.#clientSide.target?.host ?? this.#info?.peerAddress ?? '';
  }

  localAddress(): string {
    return this.#info?.localAddress ?? '';
  }

  localPort(): number {
    return this.#info?.localPort ?? 0;
  }

  /** Wire bytes queued and not yet handed to the OS. */
  bytesToWrite(): number {
    return this.#backend?.bytesToWrite() ?? 0;
  }

  // ---- limits -------------------------------------------------------------------------------

  maxAllowedIncomingFrameSize(): number {
    return this.#settings.maxAllowedIncomingFrameSize;
  }

  setMaxAllowedIncomingFrameSize(size: number): void {
    this.#setLimit('maxAllowedIncomingFrameSize', size);
  }

  maxAllowedIncomingMessageSize(): number {
    return this.#settings.maxAllowedIncomingMessageSize;
  }

  setMaxAllowedIncomingMessageSize(size: number): void {
    this.#setLimit('maxAllowedIncomingMessageSize', size);
  }

  outgoingFrameSize(): number {
    return this.#settings.outgoingFrameSize;
  }

  setOutgoingFrameSize(size: number): void {
    this.#setLimit('outgoingFrameSize', size);
  }

  static maxIncomingFrameSize(): number {
    return MaxFrameSize;
  }

  static maxIncomingMessageSize(): number {
    return MaxFrameSize;
  }

  static maxOutgoingFrameSize(): number {
    return MaxFrameSize;
  }

  #setLimit(name: SocketLimitName, size: number): void {
    checkLimit(name, size);
    this.#backend?.setLimit(name, size);
    this.#changeSettings(name, size);
  }

  /** This socket's own settings from now on, with `name` changed to `value` (checked by the caller). */
  #changeSettings<Name extends Exclude<keyof SocketSettings, 'messageQueue'>>(name: Name, value: number): void {
    this.#settings = Object.freeze({ ...this.#settings, [name]: value });
  }

  // ---- client settings ----------------------------------------------------------------------

  /** `null` restores the built-in generator. Applies at once, even to an open connection. */
  setMaskGenerator(generator: MaskGenerator | null): void {
    const client = this.#ownClient();
    client.maskGenerator = generator ?? undefined;
    client.customMaskGenerator = generator !== null;
    if (generator !== null) generator.seed?.();
    if (this.#backend !== undefined) this.#backend.setMaskGenerator(this.maskGenerator());
  }

  maskGenerator(): MaskGenerator {
    return (this.#ownClient().maskGenerator ??= new DefaultMaskGenerator());
  }

  /** Whether `setMaskGenerator` installed a generator of the caller's. */
  hasCustomMaskGenerator(): boolean {
    return this.#clientSide.customMaskGenerator;
  }

  connectTimeout(): number {
    return this.#clientSide.connectTimeoutMs;
  }

  /** DNS, TCP, proxy tunnel and TLS, in ms; 0 or Infinity: none. Applies from the next `open()`. */
  setConnectTimeout(ms: number): void {
    this.#ownClient().connectTimeoutMs = checkTimeout('connectTimeoutMs', ms);
  }

  handshakeTimeout(): number {
    return this.#clientSide.handshakeTimeoutMs;
  }

  /** From the upgrade request to the whole response, in ms; 0 or Infinity: none. */
  setHandshakeTimeout(ms: number): void {
    this.#ownClient().handshakeTimeoutMs = checkTimeout('handshakeTimeoutMs', ms);
  }

  closeTimeout(): number {
    return this.#settings.closeTimeoutMs;
  }

  /** How long the closing handshake may take before the socket is destroyed; from the next `open()`. */
  setCloseTimeout(ms: number): void {
    this.#changeSettings('closeTimeoutMs', checkTimeout('closeTimeoutMs', ms));
  }

  // ---- liveness (ours; Qt has only its fixed 5 s in-frame timeout) ----------------------------

  /** Ms without a byte from the peer before an automatic Ping is sent; 0: none. */
  idleTimeout(): number {
    return this.#settings.idleTimeout;
  }

  /** Applies at once to an open connection, and to later openings. */
  setIdleTimeout(ms: number): void {
    this.#setLivenessTimeout('idleTimeout', ms);
  }

  /** Ms the peer has after the automatic Ping to send anything before the connection closes (1001, `SocketError.IdleTimeout`); 0: never. */
  pongTimeout(): number {
    return this.#settings.pongTimeout;
  }

  setPongTimeout(ms: number): void {
    this.#setLivenessTimeout('pongTimeout', ms);
  }

  /** Ms a frame or fragmented message may stop arriving before the connection closes (1001, `SocketError.FrameTimeout`); 0: never. */
  frameTimeout(): number {
    return this.#settings.frameTimeout;
  }

  setFrameTimeout(ms: number): void {
    this.#setLivenessTimeout('frameTimeout', ms);
  }

  #setLivenessTimeout(name: LivenessTimeoutName, ms: number): void {
    this.#changeSettings(name, checkTimeoutMs(name, ms));
    this.#backend?.setLivenessTimeout(name, ms);
  }

  /**
   * An HTTP proxy to tunnel through with CONNECT, from the next `open()`; `null`: connect
   * directly; `ProxyFromEnvironment`: at each `open()`, the one `https_proxy`/`http_proxy`/
   * `all_proxy` name for the URL unless `no_proxy` excludes its host, as curl reads them.
   */
  setProxy(proxy: ProxyConfiguration | typeof ProxyFromEnvironment | null): void {
    if (proxy === ProxyFromEnvironment) {
      this.#ownClient().proxy = proxy;
      return;
    }
    if (proxy !== null) {
      if (typeof proxy.host !== 'string' || proxy.host === '') throw new InvalidArgumentError('proxy.host must be a non-empty string');
      if (!Number.isInteger(proxy.port) || proxy.port < 1 || proxy.port > 65535) throw new InvalidArgumentError(`proxy.port must be 1-65535; got ${String(proxy.port)}`);
    }
    this.#ownClient().proxy = proxy === null ? null : { ...proxy };
  }

  proxy(): ProxyConfiguration | typeof ProxyFromEnvironment | null {
    return this.#clientSide.proxy;
  }

  /** Qt's `setSslConfiguration`: CA, client certificate, servername; applied at the next wss `open()`. */
  setSslConfiguration(configuration: SslConfiguration): void {
    this.#ownClient().ssl = { ...configuration };
  }

  sslConfiguration(): SslConfiguration {
    return { ...this.#clientSide.ssl };
  }

  /**
   * Proceed despite certificate errors: all of them (no argument), or those with the given codes.
   * Call it beforehand or from an `sslErrors` listener; it stays in force for later openings, as Qt's.
   */
  ignoreSslErrors(codes?: readonly string[]): void {
    if (codes === undefined) {
      this.#ownClient().ignoreAllSslErrors = true;
      return;
    }
    // Qt's list form replaces any earlier list.
    this.#ownClient().ignoredSslErrors = new Set(codes);
  }
}
