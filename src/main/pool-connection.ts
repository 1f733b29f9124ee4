/**
 * The owner's end of one connection living in a pool thread: during the opening handshake, what
 * the owner exposes on the connection's own port (`OwnerConnectionApi`); afterwards, the
 * receiver of the connection's signals from its thread link; and the end of the connection when
 * its task settles.
 */
import * as Comlink from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import { CloseCode } from '../shared/engine/close-code.ts';
import { SocketError, WebSocketError } from '../shared/engine/errors.ts';
import type { HandshakeDecision, HandshakeFailure, HandshakeSummary, OwnerConnectionApi } from '../shared/wire/thread-messages.ts';
import { connectedInfo, type WorkerStatus } from '../shared/wire/signal-batch.ts';
import { portEndpoint } from '../shared/wire/comlink-port.ts';
import type { HttpRequest } from '../shared/connection/http-response.ts';
import type { LinkedConnection, PoolThreadLink } from './pool-thread-link.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';
import type { SocketLimitName } from '../shared/connection/socket-backend.ts';
import { WorkerMirrorBackend } from './worker-mirror-backend.ts';

export class PoolConnection implements OwnerConnectionApi, LinkedConnection {
  readonly #id: number;
  readonly #host: ServerConnectionHost;
  readonly #port: MessagePort;
  readonly #openLink: (threadId: number) => MessagePort;
  #limits: Record<SocketLimitName, number> | undefined;
  #link: PoolThreadLink | undefined;
  #mirror: WorkerMirrorBackend | undefined;
  #handshakeOver = false;
  #settled = false;

  /**
   * @param openLink makes the link of a thread that has none and returns the worker's end
   */
  constructor(id: number, host: ServerConnectionHost, port: MessagePort, openLink: (threadId: number) => MessagePort) {
    this.#id = id;
    this.#host = host;
    this.#port = port;
    this.#openLink = openLink;
    // The worker holds the only proxy of this port and releases it when the handshake is over.
    Comlink.expose(this, portEndpoint(port));
  }

  // ---- the opening handshake (over the connection's port) ------------------------------------------

  async decide(summary: HandshakeSummary): Promise<HandshakeDecision> {
    const decision = await this.#host.decide(this.#id, summary);
    if (decision.accept) this.#limits = decision.limits;
    return decision;
  }

  handshakeFailed(failure: HandshakeFailure): void {
    if (this.#handshakeOver) return;
    this.#handshakeOver = true;
    this.#host.handshakeFailed(this.#id, failure);
  }

  async httpRequest(request: HttpRequest): Promise<Uint8Array> {
    const response = await this.#host.httpRequest(this.#id, request);
    // Answered: whatever happens to the connection now is no failed handshake.
    this.#handshakeOver = true;
    // A fresh buffer of its own (see buildHttpResponse): moved to the worker, not copied.
    return Comlink.transfer(response, [response.buffer]);
  }

  threadLink(threadId: number): MessagePort {
    const port = this.#openLink(threadId);
    return Comlink.transfer(port, [port]);
  }

  // ---- the connection (over its thread's link) ---------------------------------------------------

  signals(link: PoolThreadLink, status: WorkerStatus, calls: unknown[]): void {
    if (this.#settled) return;
    if (this.#mirror === undefined) {
      const info = connectedInfo(calls);
      this.#handshakeOver = true;
      this.#link = link;
      this.#mirror = new WorkerMirrorBackend(this.#id, link);
      this.#host.upgraded(this.#id, this.#mirror, info, this.#limits!);
      // The rest of the first batch follows `Connected` (two values).
      this.#mirror.receive(status, calls, 2);
      return;
    }
    this.#mirror.receive(status, calls);
  }

  /** The connection's task settled: resolved, or failed with the error that ended its thread. */
  settle(failure?: { error: unknown }): void {
    if (this.#settled) return;
    if (failure !== undefined) {
      const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
      const error = new WebSocketError(SocketError.WorkerExited,
        `The worker thread running this connection failed: ${message}`, CloseCode.AbnormalDisconnection);
      if (this.#mirror !== undefined) this.#mirror.workerLost(error);
      else if (!this.#handshakeOver) this.handshakeFailed({ status: 0, reason: error.message, serverErrorCode: 0 });
    } else if (this.#mirror !== undefined && !this.#mirror.isEnded) {
      // The task ends after the owner acknowledged the last signal; this is a safety net only.
      this.#mirror.workerLost(new WebSocketError(SocketError.WorkerExited,
        'The connection task ended without reporting its end', CloseCode.AbnormalDisconnection));
    } else if (this.#mirror === undefined && !this.#handshakeOver) {
      this.handshakeFailed({ status: 0, reason: 'The opening handshake did not complete', serverErrorCode: 0 });
    }
    this.#settled = true;
    this.#link?.forget(this.#id);
    this.#port.close();
    this.#host.ended(this.#id);
  }
}
