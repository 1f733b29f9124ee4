/**
 * The owner's end of one connection living in a pool thread: it answers the connection's
 * handshake questions (through the server's host, back over the thread link), then receives its
 * signals from the link into the owner-side mirror, and reports the end once. A handler-mode
 * connection that nobody on the owner sees is forgotten once it is upgraded: its thread only
 * counts it from then on (see CountedNews).
 */
import { CloseCode } from '../shared/engine/close-code.ts';
import { SocketError, WebSocketError } from '../shared/engine/errors.ts';
import { buildErrorResponse } from '../shared/engine/handshake-response.ts';
import type { HttpRequest } from '../shared/connection/http-response.ts';
import type { ConnectionInfo, ConnectionLimits } from '../shared/connection/socket-backend.ts';
import type { HandshakeDecision, HandshakeFailure, HandshakeSummary } from '../shared/wire/thread-messages.ts';
import { connectedInfo } from '../shared/wire/signal-batch.ts';
import { connectionInfoOf } from '../shared/connection/server-connection.ts';
import type { AcceptDecision } from '../shared/connection/server-handshake.ts';
import type { LinkedConnection, PoolThreadLink } from './pool-thread-link.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';
import { WorkerMirrorBackend } from './worker-mirror-backend.ts';
import { RelayedHttpSocket } from './relayed-http-socket.ts';
import type { HandOverRequest } from '../shared/wire/handshake-batch.ts';

const DecisionFailed: HandshakeDecision = Object.freeze({ accept: false, status: 500, reason: 'The server failed to decide on the upgrade' });

/** What the pool learns of a connection's end. */
export interface PoolBookkeeping {
  ended(id: number): void;
}

export class PoolConnection implements LinkedConnection {
  readonly #id: number;
  readonly #host: ServerConnectionHost;
  readonly #pool: PoolBookkeeping;
  readonly link: PoolThreadLink;
  /** See WorkerMirrorBackend's `lifecycleOnly`. */
  readonly #lifecycleOnly: boolean;
  /** From the owner's decision; undefined when the standing acceptance took the connection. */
  #limits: ConnectionLimits | undefined;
  /**
   * The request and the owner's yes to it: the worker's `Connected` then carries only the
   * extensions (see ConnectedInfo).
   */
  #accepted: { summary: HandshakeSummary; decision: AcceptDecision } | undefined;
  #mirror: WorkerMirrorBackend | undefined;
  /** Set once the connection went to the application's http.Server. */
  #relayed: RelayedHttpSocket | undefined;
  #handshakeOver = false;
  #settled = false;

  constructor(id: number, host: ServerConnectionHost, pool: PoolBookkeeping, link: PoolThreadLink, lifecycleOnly: boolean) {
    this.#id = id;
    this.#lifecycleOnly = lifecycleOnly;
    this.#host = host;
    this.#pool = pool;
    this.link = link;
  }

  // ---- the opening handshake ------------------------------------------------------------------

  decide(summary: HandshakeSummary): void {
    let decision: HandshakeDecision | Promise<HandshakeDecision>;
    try {
      decision = this.#host.decide(this.#id, summary);
    } catch {
      this.#answer(summary, DecisionFailed);
      return;
    }
    // Decided at once when nobody had to be asked: no promise to wait for.
    if (decision instanceof Promise) {
      decision.then((decided) => this.#answer(summary, decided), () => this.#answer(summary, DecisionFailed));
      return;
    }
    this.#answer(summary, decision);
  }

  #answer(summary: HandshakeSummary, decision: HandshakeDecision): void {
    if (decision.accept) {
      this.#limits = decision.limits;
      this.#accepted = { summary, decision };
    }
    this.link.answerDecision(this.#id, decision);
  }

  httpRequest(request: HttpRequest): void {
    this.#host.httpRequest(this.#id, request).then((response) => {
      // Answered: whatever happens to the connection now is no failed handshake.
      this.#handshakeOver = true;
      this.link.answerHttp(this.#id, response);
    }, () => {
      this.link.answerHttp(this.#id, buildErrorResponse(500, 'The server failed to answer the request'));
    });
  }

  handshakeFailed(failure: HandshakeFailure): void {
    if (this.#handshakeOver) return;
    this.#handshakeOver = true;
    this.#host.handshakeFailed(this.#id, failure);
  }

  /** A connection that never upgraded is over. */
  handshakeEnded(): void {
    this.#relayed?.gone();
    this.#settle();
  }

  // ---- a connection handed over to the application's http.Server ----------------------------

  handOver(request: HandOverRequest): void {
    this.#handshakeOver = true;
    this.#relayed = new RelayedHttpSocket(this.#id, this.link, request);
    this.#host.httpHandedOver(this.#id, this.#relayed);
  }

  clientData(bytes: Uint8Array): void {
    this.#relayed?.receive(bytes);
  }

  clientEnded(): void {
    this.#relayed?.receiveEnd();
  }

  clientFlushed(bytes: number): void {
    this.#relayed?.flushed(bytes);
  }

  // ---- the connection -------------------------------------------------------------------------

  signals(appliedSeq: number, bytesToWrite: number, calls: unknown[]): void {
    if (this.#settled) return;
    let mirror = this.#mirror;
    if (mirror === undefined) {
      const sent = connectedInfo(calls);
      const accepted = this.#accepted;
      this.#accepted = undefined;
      const info = accepted === undefined ? sent as ConnectionInfo : connectionInfoOf(accepted.summary, accepted.decision, sent.extensions);
      this.#handshakeOver = true;
      mirror = new WorkerMirrorBackend(this.#id, this.link, this.#lifecycleOnly);
      this.#mirror = mirror;
      this.#host.upgraded(this.#id, this.link.threadId, mirror, info, this.#limits);
      // The rest of the first batch follows `Connected` (two values).
      mirror.receive(appliedSeq, bytesToWrite, calls, 2);
    } else {
      mirror.receive(appliedSeq, bytesToWrite, calls);
    }
    if (mirror.isEnded) this.#settle();
  }

  countedInThread(): void {
    this.#settle();
  }

  /** The thread holding the connection is gone: the connection is lost (1006, WorkerExited). */
  threadLost(message: string): void {
    if (this.#settled) return;
    const error = new WebSocketError(SocketError.WorkerExited, message, CloseCode.AbnormalDisconnection);
    this.#relayed?.gone();
    if (this.#mirror !== undefined) this.#mirror.workerLost(error);
    else this.handshakeFailed({ status: 0, reason: error.message, serverErrorCode: 0 });
    this.#settle();
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#pool.ended(this.#id);
    this.#host.ended(this.#id);
  }
}
