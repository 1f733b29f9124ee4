import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { asBuffer } from '../engine/bytes.ts';
import { buildClientRequest, ClientHandshakeParser, type HandshakeResponse } from '../engine/client-handshake.ts';
import { SocketError, WebSocketError } from '../engine/errors.ts';
import type { Extension, ExtensionFactory, ExtensionOffer } from '../engine/extension.ts';
import { formatExtensionHeader } from '../engine/extension-header.ts';
import { getHeader } from '../engine/http-headers.ts';
import type { MaskGenerator } from '../engine/mask-generator.ts';
import { Role } from '../engine/state.ts';
import { connectTransport, ProxyAuthenticationError, type ProxyConfiguration, type SslConfiguration, type TransportRequest } from './client-connect.ts';
import { Authenticator, basicCredentials } from './authenticator.ts';
import { EngineSocketBackend } from './engine-socket-backend.ts';
import { parseClientUrl, type ClientTarget } from './client-url.ts';
import type { ConnectionInfo, HeaderList } from './socket-backend.ts';

/** Everything one client opening needs, already validated by the caller. */
export interface ClientOpenRequest {
  target: ClientTarget;
  origin: string;
  subprotocols: string[];
  /** Extra request headers, in order. */
  headers: Array<[string, string]>;
  extensions: ExtensionFactory[];
  ssl: SslConfiguration;
  proxy: ProxyConfiguration | null;
  /** DNS, TCP, proxy tunnel and TLS, per connection (each redirect starts it again). */
  connectTimeoutMs: number;
  /** From the request written to the complete response header block. */
  handshakeTimeoutMs: number;
  /** Redirects (3xx with a Location) followed before a 3xx is an error. */
  followRedirects: number;
  maxHandshakeHeaderSize: number;
  sslErrors: TransportRequest['sslErrors'];
  alertReceived?: TransportRequest['alertReceived'];
  preSharedKeyAuthenticationRequired?: TransportRequest['preSharedKeyAuthenticationRequired'];
  /**
   * The server answered 401: the listener may set credentials on `authenticator`; when it does,
   * the opening retries once with them (Basic). Undefined: a 401 fails the opening at once.
   */
  authenticationRequired?(authenticator: Authenticator): void;
  /** The proxy answered 407 to CONNECT: as above, for `Proxy-Authorization`. */
  proxyAuthenticationRequired?(proxy: ProxyConfiguration, authenticator: Authenticator): void;
  /** Every handshake response read, so that status and headers are readable even after a failure. */
  onResponse(response: HandshakeResponse, target: ClientTarget, body: string): void;
  /** Cancels the opening; the promise rejects with `signal.reason`. */
  signal: AbortSignal;
}

export interface ClientOpened {
  /** Paused, with no listeners of ours but an 'error' guard (see `unguardErrors`). */
  socket: Duplex;
  /** Bytes that came after the response header block: the first frames. */
  rest: Uint8Array;
  /** The URL finally connected to (after redirects). */
  target: ClientTarget;
  requestHeaders: HeaderList;
  response: HandshakeResponse;
  subprotocol: string;
  extensions: Extension[];
  /** The server's answers, one `Sec-WebSocket-Extensions` element each (what `extensions()` reports). */
  agreed: string[];
}

/** Builds the request for one target; throws InvalidArgumentError for bad headers, origin or subprotocols. */
export function buildUpgradeRequest(request: Pick<ClientOpenRequest, 'origin' | 'subprotocols' | 'headers' | 'extensions'>, target: ClientTarget): { bytes: Uint8Array; key: string; fields: HeaderList } {
  const headers = [...request.headers];
  if ((target.username !== '' || target.password !== '') && !headers.some(([name]) => name.toLowerCase() === 'authorization')) {
    headers.push(['Authorization', `Basic ${Buffer.from(`${target.username}:${target.password}`, 'utf8').toString('base64')}`]);
  }
  const built = buildClientRequest({
    host: target.hostHeader,
    resourceName: target.resourceName,
    origin: request.origin,
    subprotocols: request.subprotocols,
    extensions: request.extensions.flatMap((factory) => factory.offers()),
    headers,
  });
  return { ...built, fields: requestFields(built.bytes) };
}

/** The header fields of a serialised request, as sent (the request line dropped). */
function requestFields(bytes: Uint8Array): HeaderList {
  const lines = asBuffer(bytes).toString('latin1').split('\r\n');
  const fields: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    fields.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return fields;
}

/**
 * Connects and runs the opening handshake, following redirects when asked. Every failure rejects
 * with a WebSocketError; the socket is destroyed on every failure path.
 */
export async function openClient(request: ClientOpenRequest): Promise<ClientOpened> {
  let target = request.target;
  let headers = request.headers;
  let proxy = request.proxy;
  let redirects = 0;
  // Each challenge gets one retry with the credentials a listener gave (as Qt: no loop on wrong ones).
  let authenticated = false;
  let proxyAuthenticated = false;
  for (;;) {
    const upgrade = buildUpgradeRequest({ ...request, headers }, target);
    let socket: Duplex;
    try {
      socket = await withTimeout(request.signal, request.connectTimeoutMs,
        () => new WebSocketError(SocketError.SocketTimeout, `Connecting to ${target.url} timed out after ${request.connectTimeoutMs} ms`),
        (signal) => connectTransport({ target, ssl: request.ssl, proxy, sslErrors: request.sslErrors, alertReceived: request.alertReceived,
          preSharedKeyAuthenticationRequired: request.preSharedKeyAuthenticationRequired, signal }));
    } catch (error) {
      if (!(error instanceof ProxyAuthenticationError) || proxyAuthenticated || proxy === null || request.proxyAuthenticationRequired === undefined) throw error;
      proxyAuthenticated = true;
      const authenticator = new Authenticator(error.challenge);
      request.proxyAuthenticationRequired({ ...proxy }, authenticator);
      if (authenticator.isNull()) throw error;
      proxy = { ...proxy, auth: { username: authenticator.user(), password: authenticator.password() } };
      continue;
    }
    const outcome = await withTimeout(request.signal, request.handshakeTimeoutMs,
      () => new WebSocketError(SocketError.HandshakeTimeout, `No complete handshake response from ${target.url} within ${request.handshakeTimeoutMs} ms`),
      (signal) => exchange(socket, upgrade.bytes, new ClientHandshakeParser({
        key: upgrade.key,
        subprotocols: request.subprotocols,
        extensions: request.extensions.map((factory) => factory.name),
        maxHeaderSize: request.maxHandshakeHeaderSize,
      }), target, signal));
    if (outcome.response !== undefined) request.onResponse(outcome.response, target, outcome.kind === 'failed' ? outcome.body : '');
    if (outcome.kind === 'accepted') {
      let extensions: Extension[];
      try {
        extensions = outcome.extensions.map((answer, index) => {
          // One answer per extension: a second one would claim the same RSV bits again.
          if (outcome.extensions.findIndex((other) => other.name === answer.name) !== index) throw new Error(`${answer.name} was answered twice`);
          const factory = request.extensions.find((candidate) => candidate.name === answer.name)!;
          return factory.acceptAnswer(answer);
        });
      } catch (error) {
        socket.destroy();
        throw new WebSocketError(SocketError.HandshakeFailed, `Unacceptable extension answer: ${error instanceof Error ? error.message : String(error)}`);
      }
      return { socket, rest: outcome.rest, target, requestHeaders: upgrade.fields, response: outcome.response, subprotocol: outcome.subprotocol, extensions, agreed: outcome.extensions.map((answer) => formatExtensionHeader([answer])) };
    }
    socket.destroy();
    const response = outcome.response;
    if (response?.status === 401 && !authenticated && request.authenticationRequired !== undefined) {
      authenticated = true;
      const authenticator = new Authenticator(getHeader(response.headers, 'www-authenticate') ?? '');
      request.authenticationRequired(authenticator);
      if (!authenticator.isNull()) {
        headers = [...headers.filter(([name]) => name.toLowerCase() !== 'authorization'), ['Authorization', basicCredentials(authenticator.user(), authenticator.password())]];
        continue;
      }
    }
    const location = response !== undefined && response.status >= 300 && response.status < 400 ? getHeader(response.headers, 'location') : undefined;
    if (location === undefined) throw outcome.error;
    if (redirects++ >= request.followRedirects) {
      throw new WebSocketError(SocketError.HandshakeFailed, `${outcome.error.message}; redirects are not followed${request.followRedirects > 0 ? ` beyond ${request.followRedirects}` : ' unless followRedirects is set'}`);
    }
    const next = redirectTarget(location, target);
    // Credentials given for one origin are not sent to another (as browsers, curl and ws do).
    if (next.host !== target.host || next.port !== target.port || next.secure !== target.secure) {
      headers = headers.filter(([name]) => !['authorization', 'cookie'].includes(name.toLowerCase()));
    }
    target = next;
  }
}

function redirectTarget(location: string, from: ClientTarget): ClientTarget {
  let url: URL;
  try {
    url = new URL(location, from.url);
  } catch {
    throw new WebSocketError(SocketError.HandshakeFailed, `Redirect to an invalid URL: ${JSON.stringify(location)}`);
  }
  // A server may redirect with the http(s) form of the URL; it names the same WebSocket endpoint.
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url = new URL(`${url.protocol === 'https:' ? 'wss' : 'ws'}:${url.href.slice(url.protocol.length)}`);
  }
  return parseClientUrl(url);
}

/** Runs `work` under a timer: when it fires, `work`'s signal aborts with `timeoutError()`. */
async function withTimeout<T>(outer: AbortSignal, ms: number, timeoutError: () => WebSocketError, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timer = new AbortController();
  const handle = Number.isFinite(ms) && ms > 0 ? setTimeout(() => timer.abort(timeoutError()), ms) : undefined;
  try {
    return await work(AbortSignal.any([outer, timer.signal]));
  } finally {
    if (handle !== undefined) clearTimeout(handle);
  }
}

type Exchange =
  | { kind: 'accepted'; response: HandshakeResponse; subprotocol: string; extensions: ExtensionOffer[]; rest: Uint8Array }
  | { kind: 'failed'; error: WebSocketError; response: HandshakeResponse | undefined; body: string };

/** The largest refusal body read. */
const MaxRefusalBody = 4096;

/**
 * The body of a refusal (a status other than 101) as text: what Content-Length announces, up to
 * MaxRefusalBody, read until it is complete, the server closes or `signal` (the handshake
 * timeout) ends the wait; '' without a Content-Length (nothing tells where such a body ends).
 */
function readRefusalBody(socket: Duplex, start: Uint8Array, response: HandshakeResponse, signal: AbortSignal): Promise<string> {
  const length = Number(getHeader(response.headers, 'content-length') ?? Number.NaN);
  if (!Number.isInteger(length) || length <= 0) return Promise.resolve('');
  const wanted = Math.min(length, MaxRefusalBody);
  const chunks: Buffer[] = [Buffer.from(start)];
  let received = start.length;
  return new Promise((resolve) => {
    const finish = (): void => {
      socket.off('data', onData);
      socket.off('close', finish);
      socket.off('error', finish);
      signal.removeEventListener('abort', finish);
      resolve(Buffer.concat(chunks).subarray(0, wanted).toString('utf8'));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= wanted) finish();
    };
    if (received >= wanted || socket.destroyed || signal.aborted) {
      finish();
      return;
    }
    socket.on('data', onData);
    socket.once('close', finish);
    socket.once('error', finish);
    signal.addEventListener('abort', finish, { once: true });
    socket.resume();
  });
}

/** Writes the upgrade request and reads the response; the socket is left paused on success. */
function exchange(socket: Duplex, requestBytes: Uint8Array, parser: ClientHandshakeParser, target: ClientTarget, signal: AbortSignal): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer): void => {
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      cleanup();
      socket.pause();
      if (result.kind === 'accepted') {
        resolve({ kind: 'accepted', response: result.response, subprotocol: result.subprotocol, extensions: result.extensions, rest: result.rest });
      } else if (result.rest === undefined || result.response === undefined) {
        resolve({ kind: 'failed', error: result.error, response: result.response, body: '' });
      } else {
        const { error, response } = result;
        void readRefusalBody(socket, result.rest, response, signal).then((body) => {
          // The server's reason, on one line, goes with the error (a refusal's body is short text).
          const reason = body.replace(/\s+/g, ' ').trim().slice(0, 200);
          const described = reason === '' ? error : new WebSocketError(error.kind, `${error.message}: ${reason}`);
          resolve({ kind: 'failed', error: described, response, body });
        });
      }
    };
    let transportError: Error | undefined;
    const onError = (error: Error): void => {
      transportError = error;
    };
    const onClose = (): void => {
      cleanup();
      const detail = transportError === undefined ? '' : `: ${transportError.message}`;
      reject(new WebSocketError(SocketError.RemoteHostClosed, `${target.url} closed the connection during the opening handshake${detail}`));
    };
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    if (socket.destroyed) {
      onClose();
      return;
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', onError);
    signal.addEventListener('abort', onAbort);
    socket.write(requestBytes);
    socket.resume();
  });
}

// ---- one opening, as a unit ------------------------------------------------------------------

/** The engine settings of the client connection an opening ends in. */
export interface ClientEngineSettings {
  maxAllowedIncomingFrameSize: number;
  maxAllowedIncomingMessageSize: number;
  outgoingFrameSize: number;
  maskGenerator: MaskGenerator;
  closeTimeoutMs: number;
  idleTimeout: number;
  pongTimeout: number;
  frameTimeout: number;
}

/** What an opening resolves to: a connected backend, not attached yet, and what the handshake established. */
export interface OpenedConnection {
  backend: EngineSocketBackend;
  info: ConnectionInfo;
  /** The URL finally connected to (after redirects). */
  target: ClientTarget;
  /** Still guarded against unhandled 'error' events: `unguardErrors` it once the backend is attached. */
  socket: Duplex;
}

/**
 * One client opening: connect, handshake, then the engine over the socket. `cancel()` ends it
 * with that error at whatever step it is (the socket, if any, is destroyed); a connection that
 * completes after it was cancelled is dropped.
 */
export class ClientOpening {
  readonly connection: Promise<OpenedConnection>;
  readonly #controller = new AbortController();
  #cancelled = false;

  constructor(request: Omit<ClientOpenRequest, 'signal'>, engine: ClientEngineSettings) {
    this.connection = openClient({ ...request, signal: this.#controller.signal }).then((opened) => {
      if (this.#cancelled) {
        opened.socket.destroy();
        throw this.#controller.signal.reason;
      }
      return connectedBackend(opened, engine, request.origin);
    });
    // The caller may only listen to signals; the rejection is theirs to read or not.
    this.connection.catch(() => {});
  }

  cancel(error: WebSocketError): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#controller.abort(error);
  }
}

function connectedBackend(opened: ClientOpened, engine: ClientEngineSettings, origin: string): OpenedConnection {
  const socket = opened.socket as Socket;
  const backend = new EngineSocketBackend(opened.socket, {
    role: Role.Client,
    maxAllowedIncomingFrameSize: engine.maxAllowedIncomingFrameSize,
    maxAllowedIncomingMessageSize: engine.maxAllowedIncomingMessageSize,
    outgoingFrameSize: engine.outgoingFrameSize,
    maskGenerator: engine.maskGenerator,
    extensions: opened.extensions,
    idleTimeout: engine.idleTimeout,
    pongTimeout: engine.pongTimeout,
    frameTimeout: engine.frameTimeout,
  }, opened.rest, { closeTimeoutMs: engine.closeTimeoutMs });
  const info: ConnectionInfo = {
    origin,
    requestUrl: opened.target.url,
    resourceName: opened.target.resourceName,
    requestHeaders: opened.requestHeaders,
    subprotocol: opened.subprotocol,
    extensions: opened.agreed,
    peerAddress: socket.remoteAddress ?? '',
    peerPort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    responseStatus: opened.response.status,
    responseStatusText: opened.response.statusText,
    responseHeaders: opened.response.rawHeaders,
  };
  return { backend, info, target: opened.target, socket: opened.socket };
}
