/**
 * The worker end of the owner's calls on one owner-side `WebSocket`: applies each batch of
 * `SocketBackend` calls, in order, to the connection's backend. Batches that arrive before the
 * backend exists (the owner may send from its `newConnection` handler while the 101 is still on
 * its way) wait and are applied as soon as it does.
 */
import type { EngineSocketBackend } from '../shared/connection/engine-socket-backend.ts';
import type { SocketBackend, SocketLimitName } from '../shared/connection/socket-backend.ts';
import type { LivenessTimeoutName } from '../shared/engine/liveness.ts';
import { readCommandCalls, type CommandTarget } from '../shared/wire/command-batch.ts';
import type { WorkerStatus } from '../shared/wire/signal-batch.ts';
import type { FrameTarget } from '../shared/pubsub/local-topics.ts';
import type { ThreadTopics } from './thread-topics.ts';

/** The socket a receiver applies commands to (EngineSocketBackend in a pool thread). */
export type ReceiverBackend = SocketBackend & FrameTarget & Pick<EngineSocketBackend, 'writeQueued'>;

/**
 * Why reading is paused; reading resumes only when no reason is left. `Pending`: the owner has
 * not taken the connection from its pending queue yet, so nothing may be read (the listeners
 * it will attach, frame signals included, would miss it). `Flooding`: this connection alone has
 * too much awaiting the owner (see signal-forwarder.ts); `OwnerBacklog`: the whole thread has.
 */
export const PauseReason = { User: 1, OwnerBacklog: 2, Pending: 4, Flooding: 8 } as const;

export class CommandReceiver implements CommandTarget {
  readonly #connectionId: number;
  readonly #topics: ThreadTopics;
  /** The topics the owner's mirror subscribed this connection to (left when it ends). */
  #subscriptions: Set<string> | undefined;
  #backend: ReceiverBackend | undefined;
  /** Batches that came before the backend was ready; made by the first such batch (few connections get one). */
  #waiting: Array<{ seq: number; calls: unknown[] }> | undefined;
  #appliedSeq = 0;
  #pauseReasons = 0;
  #gone = false;

  constructor(connectionId: number, topics: ThreadTopics) {
    this.#connectionId = connectionId;
    this.#topics = topics;
  }

  /** The backend is ready: apply what waited. */
  bind(backend: ReceiverBackend): void {
    this.#backend = backend;
    if (this.#pauseReasons !== 0) backend.pause();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting !== undefined) for (const { seq, calls } of waiting) this.#apply(seq, calls);
  }

  /** The connection is over: calls are acknowledged and ignored from now on. */
  release(): void {
    this.#gone = true;
    this.#waiting = undefined;
    if (this.#subscriptions !== undefined) {
      for (const topic of this.#subscriptions) this.#topics.unsubscribeMirrored(topic, this.#connectionId);
      this.#subscriptions = undefined;
    }
  }

  status(): WorkerStatus {
    return { appliedSeq: this.#appliedSeq, bytesToWrite: this.#gone ? 0 : this.#backend?.bytesToWrite() ?? 0 };
  }

  /** One batch of the connection's commands (see command-batch.ts). */
  commands(seq: number, calls: unknown[]): void {
    if (this.#gone) this.#appliedSeq = seq;
    else if (this.#backend === undefined) (this.#waiting ??= []).push({ seq, calls });
    else this.#apply(seq, calls);
  }

  /**
   * Puts what the connection has queued on its socket now (it would go this turn anyway),
   * unless the server's write delay holds it back; resolves once the socket has written all of it.
   */
  writeQueued(): Promise<void> {
    return this.#backend === undefined || this.#gone ? Promise.resolve() : this.#backend.writeQueued();
  }

  async flush(): Promise<WorkerStatus> {
    if (this.#backend !== undefined && !this.#gone) await this.#backend.flush();
    return this.status();
  }

  setPaused(reason: number, paused: boolean): void {
    const before = this.#pauseReasons;
    this.#pauseReasons = paused ? before | reason : before & ~reason;
    if (this.#backend === undefined || this.#gone || (before === 0) === (this.#pauseReasons === 0)) return;
    if (this.#pauseReasons === 0) this.#backend.resume();
    else this.#backend.pause();
  }

  #apply(seq: number, calls: unknown[]): void {
    readCommandCalls(calls, this);
    this.#appliedSeq = seq;
  }

  // ---- CommandTarget: what the owner asked, applied to the backend ----------------------------

  sendText(text: string, compress: boolean): void {
    this.#backend!.sendText(text, compress);
  }

  sendBinary(data: Uint8Array, compress: boolean): void {
    // The owner's copy, transferred: this thread's alone, so it goes out as it is.
    this.#backend!.sendBinary(data, compress, true);
  }

  ping(payload: Uint8Array): void {
    this.#backend!.ping(payload);
  }

  close(code: number, reason: string): void {
    this.#backend!.close(code, reason);
  }

  abort(): void {
    this.#backend!.abort();
  }

  /** The owner's pause is one reason among others (see PauseReason). */
  pause(): void {
    this.setPaused(PauseReason.User, true);
  }

  resume(): void {
    this.setPaused(PauseReason.User, false);
  }

  setLimit(name: SocketLimitName, value: number): void {
    this.#backend!.setLimit(name, value);
  }

  setFrameSignals(enabled: boolean): void {
    this.#backend!.setFrameSignals(enabled);
  }

  setLivenessTimeout(name: LivenessTimeoutName, ms: number): void {
    this.#backend!.setLivenessTimeout(name, ms);
  }

  taken(): void {
    this.setPaused(PauseReason.Pending, false);
  }

  setOptionalSignals(signals: number): void {
    this.#backend!.setOptionalSignals(signals);
  }

  subscribe(topic: string): void {
    (this.#subscriptions ??= new Set()).add(topic);
    this.#topics.subscribeMirrored(topic, this.#connectionId, this.#backend!);
  }

  unsubscribe(topic: string): void {
    this.#subscriptions?.delete(topic);
    this.#topics.unsubscribeMirrored(topic, this.#connectionId);
  }
}
