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
import type { ConnectionInfo } from '../shared/connection/socket-backend.ts';
import type { HandshakeDecision, HandshakeFailure, HandshakeSummary } from '../shared/wire/thread-messages.ts';
import { connectedInfo } from '../shared/wire/signal-batch.ts';
import { connectionInfoOf } from '../shared/connection/server-connection.ts';
import { shareRecentStrings } from '../shared/connection/recent-strings.ts';
import type { AcceptDecision } from '../shared/connection/server-handshake.ts';
import type { LinkedConnection, PoolThreadLink } from './pool-thread-link.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';
import { WorkerMirrorBackend } from './worker-mirror-backend.ts';
import { RelayedHttpSocket } from './relayed-http-socket.ts';
import type { HandOverRequest } from '../shared/wire/handshake-batch.ts';

/** Where the connection is, as the bits of one number. */
const Phase = {
  /** Answered, failed or handed over: whatever happens now is no failed handshake. */
  HandshakeOver: 1 << 0,
  /** Its `Connected` arrived: the mirror is the backend of the connection's socket. */
  Upgraded: 1 << 1,
  Settled: 1 << 2,
} as const;

const DecisionFailed: HandshakeDecision = Object.freeze({ accept: false, status: 500, reason: 'The server failed to decide on the upgrade' });

/** What the pool learns of a connection's end. */
export interface PoolBookkeeping {
  ended(id: number): void;
}

export class PoolConnection extends WorkerMirrorBackend implements LinkedConnection {
  readonly #host: ServerConnectionHost;
  readonly #pool: PoolBookkeeping;
  /**
   * The request and the owner's yes to it, until the upgrade: the worker's `Connected` then
   * carries only the extensions (see ConnectedInfo). Undefined when the standing acceptance took
   * the connection.
   */
  #accepted: { summary: HandshakeSummary; decision: AcceptDecision } | undefined;
  /** Set once the connection went to the application's http.Server. */
  #relayed: RelayedHttpSocket | undefined;
  /** Bits of Phase. */
  #phase = 0;

  /** @param lifecycleOnly see WorkerMirrorBackend's */
  constructor(id: number, host: ServerConnectionHost, pool: PoolBookkeeping, link: PoolThreadLink, lifecycleOnly: boolean) {
    super(id, link, lifecycleOnly);
    this.#host = host;
    this.#pool = pool;
  }

  // ---- the opening handshake ------------------------------------------------------------------

  decide(summary: HandshakeSummary): void {
    let decision: HandshakeDecision | Promise<HandshakeDecision>;
    try {
      decision = this.#host.decide(this.connectionId, summary);
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
    if (decision.accept) this.#accepted = { summary, decision };
    this.link.answerDecision(this.connectionId, decision);
  }

  httpRequest(request: HttpRequest): void {
    this.#host.httpRequest(this.connectionId, request).then((response) => {
      this.#phase |= Phase.HandshakeOver;
      this.link.answerHttp(this.connectionId, response);
    }, () => {
      this.link.answerHttp(this.connectionId, buildErrorResponse(500, 'The server failed to answer the request'));
    });
  }

  handshakeFailed(failure: HandshakeFailure): void {
    if ((this.#phase & Phase.HandshakeOver) !== 0) return;
    this.#phase |= Phase.HandshakeOver;
    this.#host.handshakeFailed(this.connectionId, failure);
  }

  /** A connection that never upgraded is over. */
  handshakeEnded(): void {
    this.#relayed?.gone();
    this.#settle();
  }

  // ---- a connection handed over to the application's http.Server ----------------------------

  handOver(request: HandOverRequest): void {
    this.#phase |= Phase.HandshakeOver;
    this.#relayed = new RelayedHttpSocket(this.connectionId, this.link, request);
    this.#host.httpHandedOver(this.connectionId, this.#relayed);
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
    const phase = this.#phase;
    if ((phase & Phase.Settled) !== 0) return;
    if ((phase & Phase.Upgraded) === 0) {
      const sent = connectedInfo(calls);
      const accepted = this.#accepted;
      this.#accepted = undefined;
      const info = accepted === undefined ? sent as ConnectionInfo : connectionInfoOf(accepted.summary, accepted.decision, sent.extensions);
      // Cloned from the thread: copies of strings the owner's other connections hold already.
      shareRecentStrings(info);
      this.#phase = phase | Phase.HandshakeOver | Phase.Upgraded;
      this.#host.upgraded(this.connectionId, this.link.threadId, this, info, accepted?.decision.limits);
      // The rest of the first batch follows `Connected` (two values).
      this.receive(appliedSeq, bytesToWrite, calls, 2);
    } else {
      this.receive(appliedSeq, bytesToWrite, calls);
    }
    if (this.isEnded) this.#settle();
  }

  countedInThread(): void {
    this.#settle();
  }

  /** The thread holding the connection is gone: the connection is lost (1006, WorkerExited). */
  threadLost(message: string): void {
    if ((this.#phase & Phase.Settled) !== 0) return;
    const error = new WebSocketError(SocketError.WorkerExited, message, CloseCode.AbnormalDisconnection);
    this.#relayed?.gone();
    if ((this.#phase & Phase.Upgraded) !== 0) this.workerLost(error);
    else this.handshakeFailed({ status: 0, reason: error.message, serverErrorCode: 0 });
    this.#settle();
  }

  #settle(): void {
    if ((this.#phase & Phase.Settled) !== 0) return;
    this.#phase |= Phase.Settled;
    this.#pool.ended(this.connectionId);
    this.#host.ended(this.connectionId);
  }
}
