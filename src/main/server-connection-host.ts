import type { Duplex } from 'node:stream';
import type { HttpRequest } from '../shared/connection/http-response.ts';
import type { HandshakeDecision, HandshakeFailure, HandshakeSummary } from '../shared/wire/thread-messages.ts';
import type { ConnectionInfo, ConnectionLimits, SocketBackend } from '../shared/connection/socket-backend.ts';

/**
 * What a transport reports to the server about each connection it carries, whichever thread the
 * connection lives on. Every call is made on the owner thread, in this order: `decide` (unless the
 * request was malformed, or the standing acceptance took it), then `upgraded` or
 * `handshakeFailed`, and `ended` exactly once. A plain HTTP request gets `httpRequest` instead of
 * `decide` (and `handshakeFailed` only if the connection fails before the response is written),
 * then `ended`.
 */
export interface ServerConnectionHost {
  /** A pool thread accepted connection `id` itself (the threads listen): new to the server, before any other call about it. */
  acceptedInThread(id: number): void;
  /**
   * A well-formed upgrade request arrived on connection `id`: accept it or not (at once, when
   * nobody has to be asked).
   */
  decide(id: number, summary: HandshakeSummary): HandshakeDecision | Promise<HandshakeDecision>;
  /** A request that is no upgrade arrived on `id` (only with `ConnectionSettings.plainHttp`): the whole response. */
  httpRequest(id: number, request: HttpRequest): Promise<Uint8Array>;
  /**
   * The first request on `id` was no upgrade and the server has an http.Server
   * (`ConnectionSettings.httpHandOver`): `socket` is the connection from now on, with every byte
   * read so far still to be read from it; `ended` follows when it closes (or at once, on the
   * owner thread, where the socket is the real one).
   */
  httpHandedOver(id: number, socket: Duplex): void;
  /** The handshake of `id` failed without a 101 (bad request, timeout, TLS failure, client gone). */
  handshakeFailed(id: number, failure: HandshakeFailure): void;
  /**
   * The 101 is written on thread `threadId` (0: this one): the connection's backend (not attached
   * yet) and what the handshake established. `limits` undefined: the standing acceptance took
   * it (ConnectionSettings.standing), with the limits new connections get.
   */
  upgraded(id: number, threadId: number, backend: SocketBackend, info: ConnectionInfo, limits: ConnectionLimits | undefined): void;
  /**
   * The connection is over, upgraded or not, or its pool thread only counts it from now on
   * (CountedNews); nothing more is reported about `id`.
   */
  ended(id: number): void;
}
