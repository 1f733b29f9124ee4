/**
 * The server's opening handshake on one accepted socket, run wherever the connection lives (a
 * pool thread, or the owner thread with `workers: 0`): optional TLS, then the upgrade request read
 * with `ServerHandshakeParser`, the decision asked of the owner (origin, subprotocol, room in the
 * pending queue) or taken from its standing acceptance, and the 101 or the HTTP error written.
 * One deadline covers all of it, so a client that trickles its request (slow loris) or never
 * finishes TLS holds nothing for long.
 *
 * With `settings.plainHttp`, a well-formed request that is no upgrade is passed to `respond`
 * (the owner's httpRequestHandler) and its answer written, and the connection closes gracefully:
 * our FIN follows the last byte, and we keep reading until the client closes too, so that it
 * receives everything. The same deadline bounds that exchange until the response is handed to
 * the OS; the client then has LingerAfterRejectMs to hang up.
 */
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
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

export interface ServerHandshakeOptions {
  /** The accepted TCP socket; nothing of it read yet unless `initialBytes` holds what was. */
  socket: Socket;
  /** Wrap the socket in TLS first (SecureMode.Secure). */
  secureContext: SecureContext | undefined;
  /** Request bytes already read from the socket elsewhere (an http.Server 'upgrade'). */
  initialBytes?: Uint8Array;
  /** The socket is already a TLS socket (an https.Server 'upgrade'): no wrapping, `wss://` URLs. */
  alreadySecure?: boolean;
  settings: ConnectionSettings;
  threadId: number;
  decide(summary: HandshakeSummary): Promise<HandshakeDecision> | HandshakeDecision;
  failed(failure: HandshakeFailure): void;
  /** The whole response to a plain request (used only with `settings.plainHttp`). */
  respond?(request: HttpRequest): Promise<Uint8Array> | Uint8Array;
  /**
   * Takes over a connection whose first request is no upgrade (used only with
   * `settings.httpHandOver`): `stream` is paused, without listeners of ours, and `received`
   * holds every byte read from it so far.
   */
  handOver?(stream: Duplex, received: Uint8Array, request: HttpRequest): void;
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

export function runServerHandshake(options: ServerHandshakeOptions): Promise<UpgradedConnection | null> {
  return new Promise((resolve) => {
    const { socket, settings } = options;
    const secure = options.secureContext !== undefined || options.alreadySecure === true;
    const stream: Duplex = options.secureContext !== undefined ? wrapInTls(socket, options.secureContext, settings.peerVerifyMode) : socket;
    let tlsDone = stream === socket;
    if (!tlsDone) stream.once('secure', () => { tlsDone = true; });
    const handOver = settings.httpHandOver ? options.handOver : undefined;
    const respond = settings.plainHttp && handOver === undefined ? options.respond : undefined;
    const parser = new ServerHandshakeParser({
      maxHeaderSize: settings.maxHeaderSize,
      plainHttp: respond !== undefined || handOver !== undefined,
      plainHttpContent: handOver !== undefined,
    });
    /** What was read, kept only to be handed over with the connection (bounded by maxHeaderSize plus one read). */
    const received: Uint8Array[] | undefined = handOver === undefined ? undefined : [];
    const startedAt = Date.now();
    let finished = false;
    let requestRead = false;
    /** The owner is deciding: a deadline now is the server's fault, answered 503 (the owner's hook was too slow). */
    let deciding = false;
    let deadline: NodeJS.Timeout | undefined;

    const cleanup = (): void => {
      finished = true;
      if (deadline !== undefined) clearTimeout(deadline);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('close', onClose);
    };

    const fail = (failure: HandshakeFailure): void => {
      if (finished) return;
      cleanup();
      stream.on('error', ignore);
      options.failed(failure);
      resolve(null);
    };

    const drop = (reason: string): void => {
      fail({ status: 0, reason, serverErrorCode: 0 });
      stream.destroy();
      if (stream !== socket) socket.destroy();
    };

    const reject = (status: number, reason: string, headers: [string, string][] | undefined, serverErrorCode: number): void => {
      fail({ status, reason, serverErrorCode });
      sendErrorAndClose(stream, buildErrorResponse(status, reason, headers));
    };

    const onError = (error: Error & { reason?: string; code?: string }): void => {
      if (tlsDone) {
        drop(`Connection failed during the opening handshake: ${error.message}`);
        return;
      }
      // A failed TLS handshake is the application's business (a client that does not trust our
      // certificate, one speaking no TLS): Qt's close code for it, with the client's alert if any.
      const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
      fail({ status: 0, reason: `TLS handshake with ${peer} failed: ${tlsErrorDetail(error)}`, serverErrorCode: CloseCode.TlsHandshakeFailed, tlsAlert: receivedAlert(error) });
      stream.destroy();
      socket.destroy();
    };
    const onClose = (): void => {
      // A client certificate that did not verify (VerifyPeer): Node ends the connection without
      // an error event; it is a failed TLS handshake like any other.
      const refused = stream instanceof TLSSocket ? stream.authorizationError : undefined;
      if (refused) {
        const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
        fail({ status: 0, reason: `TLS handshake with ${peer} failed: the client certificate was refused (${String(refused)})`, serverErrorCode: CloseCode.TlsHandshakeFailed });
        socket.destroy();
        return;
      }
      drop('The client closed the connection during the opening handshake');
    };
    const onDeadline = (): void => {
      if (!deciding) {
        drop('The opening handshake timed out');
        return;
      }
      reject(503, 'The server did not decide on the upgrade in time', [['Retry-After', '1']], CloseCode.TryAgainLater);
    };

    const onData = (chunk: Uint8Array): void => {
      if (finished) return;
      received?.push(chunk);
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      requestRead = true;
      stream.off('data', onData);
      stream.pause();
      if (result.kind === 'reject') {
        reject(result.status, result.reason, result.headers, serverErrorCodeFor(result.status));
        return;
      }
      if (result.kind === 'http') {
        if (handOver !== undefined) {
          cleanup();
          handOver(stream, Buffer.concat(received!), describe(result.request, socket, secure));
          resolve(null);
          return;
        }
        void answerPlain(result.request);
        return;
      }
      void decideAndAnswer(result.request, result.rest);
    };

    const answerPlain = async (request: HttpRequestHead): Promise<void> => {
      let response: Uint8Array;
      try {
        response = await respond!(describe(request, socket, secure));
      } catch {
        // The owner's side failed (a handler's own failure comes back as a 500 response).
        reject(500, 'The server failed to answer the request', undefined, 0);
        return;
      }
      if (finished) return;
      cleanup();
      stream.on('error', ignore);
      const remainingMs = settings.handshakeTimeoutMs > 0 ? Math.max(1, settings.handshakeTimeoutMs - (Date.now() - startedAt)) : 0;
      sendResponseAndClose(stream, response, remainingMs);
      resolve(null);
    };

    const decideAndAnswer = async (request: HandshakeRequest, rest: Uint8Array): Promise<void> => {
      const summary = summarize(request, socket, stream, secure, options.threadId);
      if (settings.standing !== null) {
        answer(request, rest, summary, standingDecision(settings.standing, summary.subprotocols));
        return;
      }
      let decision: HandshakeDecision;
      deciding = true;
      try {
        decision = await options.decide(summary);
      } catch (error) {
        reject(500, 'The server failed to decide on the upgrade', undefined, 0);
        return;
      } finally {
        deciding = false;
      }
      // The deadline or the client may have ended the attempt while the owner was deciding.
      if (finished) return;
      if (!decision.accept) {
        let refusal: Uint8Array;
        try {
          refusal = buildErrorResponse(decision.status, decision.reason, decision.headers);
        } catch (error) {
          // An upgrade handler's header that cannot be sent: a 500, and the owner hears why.
          reject(500, `Invalid handshake response: ${(error as Error).message}`, undefined, CloseCode.AbnormalDisconnection);
          return;
        }
        // The owner already accounted for its own refusal (serverError, counters).
        cleanup();
        stream.on('error', ignore);
        sendErrorAndClose(stream, refusal);
        resolve(null);
        return;
      }
      answer(request, rest, summary, decision);
    };

    /** Writes the 101 of an accepted request. */
    const answer = (request: HandshakeRequest, rest: Uint8Array, summary: HandshakeSummary, decision: AcceptDecision): void => {
      // Negotiated here, in the thread that will run the connection, from the owner's settings.
      const deflate = settings.deflate === null ? null : negotiateServerDeflate(request.extensions, settings.deflate);
      const answers = deflate === null ? NoAnswers : [deflate.answer];
      let response: string;
      try {
        response = acceptResponseText({ key: request.key, subprotocol: decision.subprotocol, extensions: answers, serverName: decision.serverName, headers: decision.headers });
      } catch (error) {
        // A server name with a newline, or an upgrade handler's bad header: Qt answers with
        // serverError 1006 and drops the client.
        reject(500, `Invalid handshake response: ${(error as Error).message}`, undefined, CloseCode.AbnormalDisconnection);
        return;
      }
      cleanup();
      stream.write(response, 'latin1');
      resolve({
        stream, request, summary, decision, rest,
        extensions: deflate === null ? NoExtensions : [deflate.extension],
        agreedExtensions: deflate === null ? NoExtensionNames : [formatExtensionHeader([deflate.answer])],
      });
    };

    stream.on('error', onError);
    stream.on('close', onClose);
    if (settings.handshakeTimeoutMs > 0) {
      deadline = setTimeout(onDeadline, settings.handshakeTimeoutMs);
    }
    if (options.initialBytes !== undefined && options.initialBytes.length > 0) {
      onData(options.initialBytes);
      if (finished || requestRead) return;
    }
    if (socket.destroyed) {
      drop('The client closed the connection before the opening handshake');
      return;
    }
    stream.on('data', onData);
    stream.resume();
    // A TLS socket over a paused TCP socket reads through the TCP handle itself; resume both.
    if (stream !== socket) socket.resume();
  });
}

function ignore(): void {}

function wrapInTls(socket: Socket, secureContext: SecureContext, mode: PeerVerifyMode): TLSSocket {
  const requestCert = mode !== PeerVerifyMode.VerifyNone;
  const required = mode === PeerVerifyMode.VerifyPeer;
  const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext, requestCert, rejectUnauthorized: required });
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

/** The connection's two ends, as both the owner's request views report them. */
function endpoints(socket: Socket): Pick<HttpRequest, 'peerAddress' | 'peerPort' | 'localAddress' | 'localPort'> {
  return {
    peerAddress: socket.remoteAddress ?? '',
    peerPort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
  };
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
    // Joined into one flat string (see headerTextOf): the connection keeps it.
    requestUrl: [secure ? 'wss://' : 'ws://', request.host, resourceName].join(''),
    requestHeaders: headerTextOf(request.rawHeaders),
    subprotocols: request.subprotocols,
    ...endpoints(socket),
    secure,
    peerCertificate: stream instanceof TLSSocket ? peerCertificateOf(stream) : null,
  };
}
