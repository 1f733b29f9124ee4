/**
 * The server's opening handshake on one accepted socket, run wherever the connection lives (a
 * pool thread, or the owner thread with `workers: 0`): optional TLS, then the upgrade request read
 * with `ServerHandshakeParser`, the decision asked of the owner (origin, subprotocol, room in the
 * pending queue) or taken from its standing acceptance, and the 101 or the HTTP error written.
 * One deadline covers all of it, so a client that trickles its request (slow loris) or never
 * finishes TLS holds nothing for long.
 *
 * With `settings.plainHttp`, a well-formed request that is no upgrade goes to the host's
 * `httpRequest` (the owner's httpRequestHandler) and its answer is written, and the connection
 * closes gracefully: our FIN follows the last byte, and we keep reading until the client closes
 * too, so that it receives everything. The same deadline bounds that exchange until the response
 * is handed to the OS; the client then has LingerAfterRejectMs to hang up.
 */
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import { nodeTls } from './node-tls.ts';
import { CloseCode } from '../engine/close-code.ts';
import { headerTextOf } from './header-text.ts';
import { ServerHandshakeParser, type HandshakeRequest, type HttpRequestHead } from '../engine/handshake-request.ts';
import { NoExtensions, type Extension, type ExtensionOffer } from '../engine/extension.ts';
import { formatExtensionHeader } from '../engine/extension-header.ts';
import { acceptResponseText, buildErrorResponse } from '../engine/handshake-response.ts';
import { negotiateServerDeflate } from '../engine/permessage-deflate.ts';
import type { HttpRequest } from './http-response.ts';
import { receivedAlert, tlsErrorDetail } from './tls-alert.ts';
import { peerCertificateOf, PeerVerifyMode, verifyPeerWhenSecure } from './peer-certificate.ts';
import { RecentStrings } from './recent-strings.ts';
import type { ConnectionSettings, HandshakeDecision, HandshakeFailure, HandshakeSummary, StandingAcceptance } from '../wire/thread-messages.ts';

export type AcceptDecision = Extract<HandshakeDecision, { accept: true }>;

/** The subprotocol a server picks: the first the client offers that it supports ('' for none). */
export function chooseSubprotocol(offers: readonly string[], supported: readonly string[]): string {
  return offers.find((offer) => supported.includes(offer)) ?? '';
}

/** The owner's standing answer to a request offering `offers`. */
function standingDecision(standing: StandingAcceptance, offers: readonly string[]): AcceptDecision {
  return { accept: true, subprotocol: chooseSubprotocol(offers, standing.supportedSubprotocols), serverName: standing.serverName, limits: standing.limits, frameSignals: false };
}

/** What the thread that runs a handshake provides for it: the owner's answers, and what comes next. */
export interface HandshakeHost {
  /** The thread the handshake runs on (0: the owner), for the summary. */
  readonly threadId: number;
  decide(connectionId: number, summary: HandshakeSummary): Promise<HandshakeDecision> | HandshakeDecision;
  handshakeFailed(connectionId: number, failure: HandshakeFailure): void;
  /** The whole response to a plain request (asked only with `settings.plainHttp`). */
  httpRequest(connectionId: number, request: HttpRequest): Promise<Uint8Array> | Uint8Array;
  /**
   * Takes over a connection whose first request is no upgrade (asked only with
   * `settings.httpHandOver`): `stream` is paused, without listeners of ours, and `received`
   * holds every byte read from it so far.
   */
  handOver(connectionId: number, stream: Duplex, received: Uint8Array, request: HttpRequest): void;
  /**
   * The handshake is over, and this is the last call about it: `upgraded` once the 101 is
   * written; null when it failed, a plain response was written, or the connection was handed over.
   */
  handshakeDone(connectionId: number, settings: ConnectionSettings, upgraded: UpgradedConnection | null): void;
}

/** A socket an http(s).Server has read the upgrade request from. */
export interface HandedOverSocket {
  /** The bytes it read. */
  initialBytes: Uint8Array;
  /** It is a TLS socket already (an https.Server): no wrapping, `wss://` URLs. */
  secure: boolean;
}

export interface UpgradedConnection {
  /** The socket the WebSocket runs on: the TCP socket, or the TLS socket over it. */
  stream: Duplex;
  request: HandshakeRequest;
  summary: HandshakeSummary;
  decision: AcceptDecision;
  /** Bytes that followed the request in the same read: the first frames. */
  rest: Uint8Array;
  /** The extensions agreed in the 101, and their answers as `Sec-WebSocket-Extensions` elements. */
  extensions: readonly Extension[];
  agreedExtensions: readonly string[];
}

// What a connection that agreed no extension keeps: one list each for all of them.
const NoAnswers: readonly ExtensionOffer[] = Object.freeze([]);
const NoExtensionNames: readonly string[] = Object.freeze([]);

/** After an HTTP error response, how long the client may take to read it and hang up. */
const LingerAfterRejectMs = 2000;

/** Qt's `serverError` code for a rejection by the parser (0: Qt emits none). */
function serverErrorCodeFor(status: number): number {
  if (status === 431) return CloseCode.TooMuchData; // "Header is too large."
  if (status === 426) return CloseCode.ProtocolError; // "Unsupported version requested."
  return 0; // a malformed request: Qt closes without a serverError
}

/**
 * Runs the opening handshake on `socket`, which nothing has read from yet unless `handedOver`
 * says what was; `secureContext` wraps it in TLS first (SecureMode.Secure). The host hears the
 * end through `handshakeDone`.
 */
export function startServerHandshake(host: HandshakeHost, connectionId: number, socket: Socket, settings: ConnectionSettings, secureContext: SecureContext | undefined, handedOver?: HandedOverSocket): void {
  // No Nagle delay on any server connection, as ws does too. Set where the connection is served
  // rather than where it was accepted: a socket the owner moves to a pool thread then costs the
  // owner, the serial part, no setsockopt. handleUpgrade() may give a stream that is no socket.
  if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
  new ServerHandshake(host, connectionId, socket, settings, secureContext, handedOver).start(handedOver?.initialBytes);
}

/** One handshake: a record and three listeners, where a closure per step would be a dozen. */
class ServerHandshake {
  readonly #host: HandshakeHost;
  readonly #connectionId: number;
  readonly #socket: Socket;
  /** The socket the WebSocket will run on: the TCP socket, or the TLS socket over it. */
  readonly #stream: Duplex;
  readonly #settings: ConnectionSettings;
  readonly #secure: boolean;
  readonly #parser: ServerHandshakeParser<boolean>;
  /** Set with `settings.httpHandOver`: a request that is no upgrade goes to the host's http.Server. */
  readonly #handsOver: boolean;
  /** What was read, kept only to be handed over with the connection (bounded by maxHeaderSize plus one read). */
  readonly #received: Uint8Array[] | undefined;
  readonly #startedAt = Date.now();
  #tlsDone: boolean;
  #finished = false;
  #requestRead = false;
  /** The owner is deciding: a deadline now is the server's fault, answered 503 (the owner's hook was too slow). */
  #deciding = false;
  #deadline: NodeJS.Timeout | undefined;
  // The stream calls its listeners with itself as `this`.
  readonly #onData = (chunk: Uint8Array): void => this.#data(chunk);
  readonly #onError = (error: Error): void => this.#error(error);
  readonly #onClose = (): void => this.#closed();

  constructor(host: HandshakeHost, connectionId: number, socket: Socket, settings: ConnectionSettings, secureContext: SecureContext | undefined, handedOver: HandedOverSocket | undefined) {
    this.#host = host;
    this.#connectionId = connectionId;
    this.#socket = socket;
    this.#settings = settings;
    this.#secure = secureContext !== undefined || handedOver?.secure === true;
    const stream: Duplex = secureContext !== undefined ? wrapInTls(socket, secureContext, settings.peerVerifyMode) : socket;
    this.#stream = stream;
    this.#tlsDone = stream === socket;
    if (!this.#tlsDone) stream.once('secure', () => { this.#tlsDone = true; });
    this.#handsOver = settings.httpHandOver;
    this.#received = this.#handsOver ? [] : undefined;
    this.#parser = new ServerHandshakeParser({
      maxHeaderSize: settings.maxHeaderSize,
      plainHttp: settings.plainHttp || this.#handsOver,
      plainHttpContent: this.#handsOver,
    });
  }

  start(initialBytes: Uint8Array | undefined): void {
    const stream = this.#stream;
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    if (this.#settings.handshakeTimeoutMs > 0) {
      this.#deadline = setTimeout(ServerHandshake.#deadlineReached, this.#settings.handshakeTimeoutMs, this);
    }
    if (initialBytes !== undefined && initialBytes.length > 0) {
      this.#data(initialBytes);
      if (this.#finished || this.#requestRead) return;
    }
    if (this.#socket.destroyed) {
      this.#drop('The client closed the connection before the opening handshake');
      return;
    }
    stream.on('data', this.#onData);
    stream.resume();
    // A TLS socket over a paused TCP socket reads through the TCP handle itself; resume both.
    if (stream !== this.#socket) this.#socket.resume();
  }

  #cleanup(): void {
    this.#finished = true;
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    const stream = this.#stream;
    stream.off('data', this.#onData);
    stream.off('error', this.#onError);
    stream.off('close', this.#onClose);
  }

  #done(upgraded: UpgradedConnection | null): void {
    this.#host.handshakeDone(this.#connectionId, this.#settings, upgraded);
  }

  #fail(failure: HandshakeFailure): void {
    if (this.#finished) return;
    this.#cleanup();
    this.#stream.on('error', ignore);
    this.#host.handshakeFailed(this.#connectionId, failure);
    this.#done(null);
  }

  #drop(reason: string): void {
    this.#fail({ status: 0, reason, serverErrorCode: 0 });
    this.#stream.destroy();
    if (this.#stream !== this.#socket) this.#socket.destroy();
  }

  #reject(status: number, reason: string, headers: [string, string][] | undefined, serverErrorCode: number): void {
    this.#fail({ status, reason, serverErrorCode });
    sendErrorAndClose(this.#stream, buildErrorResponse(status, reason, headers));
  }

  #error(error: Error & { reason?: string; code?: string }): void {
    if (this.#tlsDone) {
      this.#drop(`Connection failed during the opening handshake: ${error.message}`);
      return;
    }
    // A failed TLS handshake is the application's business (a client that does not trust our
    // certificate, one speaking no TLS): Qt's close code for it, with the client's alert if any.
    const socket = this.#socket;
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.#fail({ status: 0, reason: `TLS handshake with ${peer} failed: ${tlsErrorDetail(error)}`, serverErrorCode: CloseCode.TlsHandshakeFailed, tlsAlert: receivedAlert(error) });
    this.#stream.destroy();
    socket.destroy();
  }

  #closed(): void {
    // A client certificate that did not verify (VerifyPeer): Node ends the connection without
    // an error event; it is a failed TLS handshake like any other.
    const stream = this.#stream;
    const refused = secureStream(stream)?.authorizationError;
    if (refused) {
      const socket = this.#socket;
      const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
      this.#fail({ status: 0, reason: `TLS handshake with ${peer} failed: the client certificate was refused (${String(refused)})`, serverErrorCode: CloseCode.TlsHandshakeFailed });
      socket.destroy();
      return;
    }
    this.#drop('The client closed the connection during the opening handshake');
  }

  static #deadlineReached(handshake: ServerHandshake): void {
    if (!handshake.#deciding) {
      handshake.#drop('The opening handshake timed out');
      return;
    }
    handshake.#reject(503, 'The server did not decide on the upgrade in time', [['Retry-After', '1']], CloseCode.TryAgainLater);
  }

  #data(chunk: Uint8Array): void {
    if (this.#finished) return;
    this.#received?.push(chunk);
    const result = this.#parser.feed(chunk);
    if (result.kind === 'incomplete') return;
    this.#requestRead = true;
    const stream = this.#stream;
    stream.off('data', this.#onData);
    stream.pause();
    if (result.kind === 'reject') {
      this.#reject(result.status, result.reason, result.headers, serverErrorCodeFor(result.status));
      return;
    }
    if (result.kind === 'http') {
      if (this.#handsOver) {
        this.#cleanup();
        this.#host.handOver(this.#connectionId, stream, Buffer.concat(this.#received!), describe(result.request, this.#socket, this.#secure));
        this.#done(null);
        return;
      }
      void this.#answerPlain(result.request);
      return;
    }
    this.#upgradeRequested(result.request, result.rest);
  }

  async #answerPlain(request: HttpRequestHead): Promise<void> {
    let response: Uint8Array;
    try {
      response = await this.#host.httpRequest(this.#connectionId, describe(request, this.#socket, this.#secure));
    } catch {
      // The owner's side failed (a handler's own failure comes back as a 500 response).
      this.#reject(500, 'The server failed to answer the request', undefined, 0);
      return;
    }
    if (this.#finished) return;
    this.#cleanup();
    this.#stream.on('error', ignore);
    const timeoutMs = this.#settings.handshakeTimeoutMs;
    const remainingMs = timeoutMs > 0 ? Math.max(1, timeoutMs - (Date.now() - this.#startedAt)) : 0;
    sendResponseAndClose(this.#stream, response, remainingMs);
    this.#done(null);
  }

  #upgradeRequested(request: HandshakeRequest, rest: Uint8Array): void {
    const summary = summarize(request, this.#socket, this.#stream, this.#secure, this.#host.threadId);
    const standing = this.#settings.standing;
    if (standing !== null) {
      this.#answer(request, rest, summary, standingDecision(standing, summary.subprotocols));
      return;
    }
    void this.#askOwner(request, rest, summary);
  }

  async #askOwner(request: HandshakeRequest, rest: Uint8Array, summary: HandshakeSummary): Promise<void> {
    let decision: HandshakeDecision;
    this.#deciding = true;
    try {
      decision = await this.#host.decide(this.#connectionId, summary);
    } catch {
      this.#reject(500, 'The server failed to decide on the upgrade', undefined, 0);
      return;
    } finally {
      this.#deciding = false;
    }
    // The deadline or the client may have ended the attempt while the owner was deciding.
    if (this.#finished) return;
    if (!decision.accept) {
      let refusal: Uint8Array;
      try {
        refusal = buildErrorResponse(decision.status, decision.reason, decision.headers);
      } catch (error) {
        // An upgrade handler's header that cannot be sent: a 500, and the owner hears why.
        this.#reject(500, `Invalid handshake response: ${(error as Error).message}`, undefined, CloseCode.AbnormalDisconnection);
        return;
      }
      // The owner already accounted for its own refusal (serverError, counters).
      this.#cleanup();
      this.#stream.on('error', ignore);
      sendErrorAndClose(this.#stream, refusal);
      this.#done(null);
      return;
    }
    this.#answer(request, rest, summary, decision);
  }

  /** Writes the 101 of an accepted request. */
  #answer(request: HandshakeRequest, rest: Uint8Array, summary: HandshakeSummary, decision: AcceptDecision): void {
    // Negotiated here, in the thread that will run the connection, from the owner's settings.
    const settings = this.#settings;
    const deflate = settings.deflate === null ? null : negotiateServerDeflate(request.extensions, settings.deflate);
    const answers = deflate === null ? NoAnswers : [deflate.answer];
    let response: string;
    try {
      response = acceptResponseText({ key: request.key, subprotocol: decision.subprotocol, extensions: answers, serverName: decision.serverName, headers: decision.headers });
    } catch (error) {
      // A server name with a newline, or an upgrade handler's bad header: Qt answers with
      // serverError 1006 and drops the client.
      this.#reject(500, `Invalid handshake response: ${(error as Error).message}`, undefined, CloseCode.AbnormalDisconnection);
      return;
    }
    this.#cleanup();
    const stream = this.#stream;
    stream.write(response, 'latin1');
    this.#done({
      stream, request, summary, decision, rest,
      extensions: deflate === null ? NoExtensions : [deflate.extension],
      agreedExtensions: deflate === null ? NoExtensionNames : [formatExtensionHeader([deflate.answer])],
    });
  }
}

function ignore(): void {}

/** `stream` as the TLSSocket it is, if it is one: told by `encrypted`, so a plain server never loads node:tls. */
function secureStream(stream: Duplex): TLSSocket | undefined {
  return (stream as Partial<TLSSocket>).encrypted === true ? stream as TLSSocket : undefined;
}

function peerCertificateOfStream(stream: Duplex): HandshakeSummary['peerCertificate'] {
  const secured = secureStream(stream);
  return secured === undefined ? null : peerCertificateOf(secured);
}

function wrapInTls(socket: Socket, secureContext: SecureContext, mode: PeerVerifyMode): TLSSocket {
  const requestCert = mode !== PeerVerifyMode.VerifyNone;
  const required = mode === PeerVerifyMode.VerifyPeer;
  const tlsSocket = new (nodeTls().TLSSocket)(socket, { isServer: true, secureContext, requestCert, rejectUnauthorized: required });
  if (requestCert) verifyPeerWhenSecure(tlsSocket, required);
  return tlsSocket;
}

/** Writes an HTTP error, ends our side, and gives the client a moment to read it before dropping. */
function sendErrorAndClose(stream: Duplex, response: Uint8Array): void {
  if (stream.destroyed) return;
  stream.on('error', ignore);
  stream.end(response);
  // Keep reading (and discarding) so that unread bytes do not turn our close into a reset that
  // could destroy the response before the client reads it.
  stream.resume();
  setTimeout(() => stream.destroy(), LingerAfterRejectMs).unref();
}

/**
 * Writes a plain HTTP response and closes gracefully: FIN after the last byte, then reading (and
 * discarding) until the client closes, so that nothing unread turns our close into a reset that
 * would cut the response. Dropped if it is not handed to the OS within `writeBoundMs` (0: no
 * bound), or if the client has not hung up LingerAfterRejectMs after that.
 */
function sendResponseAndClose(stream: Duplex, response: Uint8Array, writeBoundMs: number): void {
  if (stream.destroyed) return;
  const timers: NodeJS.Timeout[] = [];
  const drop = (): void => { stream.destroy(); };
  stream.once('close', () => { for (const timer of timers) clearTimeout(timer); });
  stream.once('finish', () => {
    for (const timer of timers) clearTimeout(timer);
    timers.push(setTimeout(drop, LingerAfterRejectMs).unref());
  });
  if (writeBoundMs > 0) timers.push(setTimeout(drop, writeBoundMs).unref());
  stream.end(response);
  stream.resume();
}

/** A socket's native handle, as far as its addresses go (Node's TCP wrap; a TLS wrap passes the calls to it). */
interface AddressHandle {
  getpeername(out: AddressOut): number;
  getsockname(out: AddressOut): number;
}

interface AddressOut {
  address?: string;
  port?: number;
}

/** What the handle's address calls fill in: one for the thread, emptied before each call. */
const addressOut: AddressOut = {};

/**
 * One end's address as `call` reports it, in the thread's one `addressOut`: empty when the call
 * fails (the peer reset the connection already), as the getters would be.
 */
function handleAddress(handle: AddressHandle, call: 'getpeername' | 'getsockname'): AddressOut {
  addressOut.address = undefined;
  addressOut.port = undefined;
  handle[call](addressOut);
  return addressOut;
}

/**
 * The connection's two ends, read from the socket's handle. Node's `remoteAddress` and
 * `localAddress` getters keep what they read on the socket (two objects and their strings,
 * 176 bytes for as long as it lives); the connection keeps these values itself, in its info,
 * with the strings connections repeat shared (recent-strings.ts). A handle without the calls
 * (none, or not Node's TCP wrap) is asked through the getters.
 */
function endpoints(socket: Socket): Pick<HttpRequest, 'peerAddress' | 'peerPort' | 'localAddress' | 'localPort'> {
  const handle = (socket as unknown as { _handle?: Partial<AddressHandle> | null })._handle;
  if (typeof handle?.getpeername !== 'function' || typeof handle.getsockname !== 'function') {
    return { peerAddress: socket.remoteAddress ?? '', peerPort: socket.remotePort ?? 0, localAddress: socket.localAddress ?? '', localPort: socket.localPort ?? 0 };
  }
  const peer = handleAddress(handle as AddressHandle, 'getpeername');
  const peerAddress = RecentStrings.peerAddress.shared(peer.address ?? '');
  const peerPort = peer.port ?? 0;
  // The same object, refilled.
  const local = handleAddress(handle as AddressHandle, 'getsockname');
  return { peerAddress, peerPort, localAddress: RecentStrings.localAddress.shared(local.address ?? ''), localPort: local.port ?? 0 };
}

function describe(request: HttpRequestHead, socket: Socket, secure: boolean): HttpRequest {
  return { ...request, secure, ...endpoints(socket) };
}

function summarize(request: HandshakeRequest, socket: Socket, stream: Duplex, secure: boolean, threadId: number): HandshakeSummary {
  const resourceName = request.query === '' ? request.path : `${request.path}?${request.query}`;
  return {
    threadId,
    method: request.method,
    origin: request.origin ?? '',
    resourceName,
    // Joined into one flat string (see headerTextOf), the one the last connection has when equal: the connection keeps it.
    requestUrl: RecentStrings.requestUrl.shared([secure ? 'wss://' : 'ws://', request.host, resourceName].join('')),
    requestHeaders: headerTextOf(request.rawHeaders),
    subprotocols: request.subprotocols,
    ...endpoints(socket),
    secure,
    peerCertificate: peerCertificateOfStream(stream),
  };
}
