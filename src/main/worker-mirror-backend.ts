/**
 * The owner-side `SocketBackend` of a connection that lives in a pool thread. Calls from the
 * owner-side `WebSocket` become one command batch per event-loop turn, which the thread link
 * sends with those of the thread's other connections in one message; the worker's signals
 * become `SocketSink` calls, in order.
 *
 * Qt's API is synchronous where a thread hop is not: `sendTextMessage` must return the bytes
 * queued at once. The mirror answers from what it knows (the payload size while the connection is
 * open, as the engine would) and keeps `bytesToWrite` as the worker's last report plus what the
 * owner queued since, so the figure is current without waiting for the worker.
 */
import { Buffer } from 'node:buffer';
import { CloseCode } from '../shared/engine/close-code.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';
import { lostConnectionCalls, readSignalCalls, SignalEffect, signalEffects } from '../shared/wire/signal-batch.ts';
import { CommandWriter } from '../shared/wire/command-batch.ts';
import { TurnQueue } from '../shared/connection/turn-queue.ts';
import type { CommandSource, PoolThreadLink } from './pool-thread-link.ts';
import type { SocketBackend, SocketLimitName, SocketSink } from '../shared/connection/socket-backend.ts';
import type { TopicMembership } from '../shared/pubsub/topic-membership.ts';
import type { LivenessTimeoutName } from '../shared/engine/liveness.ts';

/** Calls held for a socket nobody has taken from the pending queue yet, above which reading pauses. */
const MaxHeldCalls = 4096;

/** Worst-case frame header (RFC 6455 5.2), used until the worker reports the exact figure. */
const FrameHeaderEstimate = 10;

/**
 * What a backend holds while it holds nothing (frozen: a push into one would throw). The owner
 * has a backend per connection, most of which never hold a signal or a command: their lists,
 * writer and waiters are made the first time one is needed.
 */
const NoHeld: unknown[][] = Object.freeze([]) as unknown as unknown[][];
const NoBatches: Array<{ seq: number; bytes: number }> = Object.freeze([]) as unknown as Array<{ seq: number; bytes: number }>;

/** A mirror's yes/no state, as the bits of one number (the owner holds a mirror per connection). */
const Flag = {
  /** Reading is paused because too many signals are held for a socket nobody has taken. */
  PausedForHold: 1 << 0,
  UserPaused: 1 << 1,
  /** This turn's commands are queued with the link. */
  Scheduled: 1 << 2,
  /** close() or abort() was called, or the peer's Close arrived: sends are refused (the engine would refuse them). */
  Closing: 1 << 3,
  /** The worker sent its last signal (or died): nothing more goes to it. */
  Ended: 1 << 4,
  /** See the constructor's `lifecycleOnly`. */
  LifecycleOnly: 1 << 5,
} as const;

export class WorkerMirrorBackend implements SocketBackend, CommandSource, TopicMembership {
  readonly connectionId: number;
  readonly link: PoolThreadLink;
  #sink: SocketSink | undefined;
  /** Signals that arrived before `attach()`: delivered right after it, so none is lost. */
  #held: unknown[][] = NoHeld;
  #heldCalls = 0;

  #commands: CommandWriter | undefined;
  #seq = 0;
  /** Command batches the worker has not acknowledged yet, with the wire bytes they queue. */
  #unacked: Array<{ seq: number; bytes: number }> = NoBatches;
  #reportedBytesToWrite = 0;

  #flushWaiters: Set<() => void> | undefined;
  /** Bits of Flag. */
  #flags = 0;

  /**
   * @param lifecycleOnly a handler module serves the connection in its thread, which reads from
   *   the start: nothing to release when the owner attaches
   */
  constructor(connectionId: number, link: PoolThreadLink, lifecycleOnly = false) {
    this.connectionId = connectionId;
    this.link = link;
    if (lifecycleOnly) this.#flags = Flag.LifecycleOnly;
  }

  /** Whether the connection is over (the sink got `disconnected`, or will once attached). */
  get isEnded(): boolean {
    return (this.#flags & Flag.Ended) !== 0;
  }

  // -------------------------------------------------------------------------------------------
  // From the worker

  /** One turn's signals, from `from` on (the first batch opens with `Connected`, which the server read). */
  receive(appliedSeq: number, bytesToWrite: number, calls: unknown[], from = 0): void {
    this.applyStatus(appliedSeq, bytesToWrite);
    if (calls.length <= from) return;
    // What the batch does to the connection applies from now on, even while it is held.
    const effects = signalEffects(calls);
    if ((effects & SignalEffect.Closing) !== 0) this.#flags |= Flag.Closing;
    if ((effects & SignalEffect.Ended) !== 0) this.#markDisconnected();
    if (this.#sink === undefined || this.#held.length > 0) {
      this.#hold(from === 0 ? calls : calls.slice(from));
      return;
    }
    readSignalCalls(calls, this.#sink, from);
  }

  /** The worker thread died or the task failed: the connection is lost (1006) with this error. */
  workerLost(error: WebSocketError): void {
    if ((this.#flags & Flag.Ended) !== 0) return;
    this.receive(this.#seq, 0, lostConnectionCalls(error, CloseCode.AbnormalDisconnection));
  }

  #hold(calls: unknown[]): void {
    if (this.#held === NoHeld) this.#held = [];
    this.#held.push(calls);
    this.#heldCalls += calls.length;
    if (this.#heldCalls > MaxHeldCalls && (this.#flags & Flag.PausedForHold) === 0) {
      this.#flags |= Flag.PausedForHold;
      if ((this.#flags & Flag.UserPaused) === 0) this.#command()?.pause();
    }
  }

  #markDisconnected(): void {
    this.#flags |= Flag.Closing | Flag.Ended;
    this.#commands = undefined;
    this.#unacked = NoBatches;
    this.#reportedBytesToWrite = 0;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = undefined;
    if (waiters !== undefined) for (const resolve of waiters) resolve();
  }

  applyStatus(appliedSeq: number, bytesToWrite: number): void {
    this.#reportedBytesToWrite = bytesToWrite;
    let drop = 0;
    while (drop < this.#unacked.length && this.#unacked[drop]!.seq <= appliedSeq) drop++;
    if (drop > 0) this.#unacked.splice(0, drop);
  }

  // -------------------------------------------------------------------------------------------
  // SocketBackend

  attach(sink: SocketSink): void {
    if (this.#sink !== undefined) throw new Error('WorkerMirrorBackend.attach() called twice');
    this.#sink = sink;
    if ((this.#flags & Flag.LifecycleOnly) !== 0) {
      this.#deliverHeld(sink);
      return;
    }
    // The worker reads nothing until the connection is taken. Not before this turn: the
    // listeners added after attach ask for frame signals from a microtask, and that command
    // must reach the worker before its first read.
    WorkerMirrorBackend.#toTake.add(this);
  }

  /** The sockets attached this turn, told `taken` at its end under one immediate (no closure each). */
  static readonly #toTake = new TurnQueue<WorkerMirrorBackend>((backend) => backend.#taken());

  #taken(): void {
    this.#command()?.taken();
    this.#deliverHeld(this.#sink!);
  }

  /** The signals held until attach, oldest first, and reading resumed if holding them paused it. */
  #deliverHeld(sink: SocketSink): void {
    // Delivery may add to #held (a batch arriving meanwhile is held behind the older ones).
    while (this.#held.length > 0) readSignalCalls(this.#held.shift()!, sink);
    this.#held = NoHeld;
    this.#heldCalls = 0;
    if ((this.#flags & Flag.PausedForHold) !== 0) {
      this.#flags &= ~Flag.PausedForHold;
      if ((this.#flags & Flag.UserPaused) === 0) this.#command()?.resume();
    }
  }

  sendText(text: string, compress = true): number {
    if ((this.#flags & Flag.Closing) !== 0) return 0;
    const bytes = Buffer.byteLength(text);
    this.#command()!.sendText(text, compress);
    this.#queued(bytes);
    return bytes;
  }

  sendBinary(data: Uint8Array, compress = true): number {
    if ((this.#flags & Flag.Closing) !== 0) return 0;
    // Copied now, `shared` or not: the copy is what crosses to the thread (transferred), and the
    // caller may reuse its buffer as soon as this returns.
    this.#command()!.sendBinary(Uint8Array.prototype.slice.call(data), compress);
    this.#queued(data.byteLength);
    return data.byteLength;
  }

  ping(payload: Uint8Array): void {
    if ((this.#flags & Flag.Closing) !== 0) return;
    this.#command()!.ping(Uint8Array.prototype.slice.call(payload, 0, 125));
  }

  close(code: number, reason: string): void {
    this.#flags |= Flag.Closing;
    this.#command()?.close(code, reason);
  }

  abort(): void {
    this.#flags |= Flag.Closing;
    this.#command()?.abort();
  }

  flush(): Promise<void> {
    if ((this.#flags & Flag.Ended) !== 0) return Promise.resolve();
    this.link.sendNow(this);
    return new Promise((resolve) => {
      (this.#flushWaiters ??= new Set()).add(resolve);
      const done = (): void => {
        this.#flushWaiters?.delete(resolve);
        resolve();
      };
      this.link.flush(this.connectionId).then((status) => {
        this.applyStatus(status.appliedSeq, status.bytesToWrite);
        done();
      }, done);
    });
  }

  pause(): void {
    this.#flags |= Flag.UserPaused;
    this.#command()?.pause();
  }

  resume(): void {
    this.#flags &= ~Flag.UserPaused;
    if ((this.#flags & Flag.PausedForHold) === 0) this.#command()?.resume();
  }

  setLimit(name: SocketLimitName, value: number): void {
    this.#command()?.setLimit(name, value);
  }

  setLivenessTimeout(name: LivenessTimeoutName, ms: number): void {
    this.#command()?.setLivenessTimeout(name, ms);
  }

  /** The worker starts with none (see worker-connection.ts): only what is listened to crosses. */
  setOptionalSignals(signals: number): void {
    this.#command()?.setOptionalSignals(signals);
  }

  bytesToWrite(): number {
    if ((this.#flags & Flag.Ended) !== 0) return 0;
    let total = this.#reportedBytesToWrite;
    for (const { bytes } of this.#unacked) total += bytes;
    return total;
  }

  setFrameSignals(enabled: boolean): void {
    this.#command()?.setFrameSignals(enabled);
  }

  /** A server-side socket never masks its frames. */
  setMaskGenerator(): void {}

  // TopicMembership: counted on the owner at once, kept by the thread holding the socket, which
  // learns of it with this turn's commands (topic-hub.ts).

  subscribe(topic: string): void {
    this.link.countSubscription(topic, 1);
    this.#command()?.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.link.countSubscription(topic, -1);
    this.#command()?.unsubscribe(topic);
  }

  publish(topic: string, message: string | Uint8Array): void {
    this.link.publishFrom(this.connectionId, topic, message);
  }

  // -------------------------------------------------------------------------------------------
  // Command batching

  /** The writer of this turn's commands, scheduled for the link; none once the connection has ended. */
  #command(): CommandWriter | undefined {
    if ((this.#flags & Flag.Ended) !== 0) return undefined;
    if ((this.#flags & Flag.Scheduled) === 0) {
      this.#flags |= Flag.Scheduled;
      this.link.queue(this);
    }
    return (this.#commands ??= new CommandWriter());
  }

  #queued(payloadBytes: number): void {
    const bytes = payloadBytes + FrameHeaderEstimate;
    const last = this.#unacked[this.#unacked.length - 1];
    // Counted against the batch that will carry it (seq + 1 until it is sent).
    if (last !== undefined && last.seq === this.#seq + 1) last.bytes += bytes;
    else if (this.#unacked === NoBatches) this.#unacked = [{ seq: this.#seq + 1, bytes }];
    else this.#unacked.push({ seq: this.#seq + 1, bytes });
  }

  /** The commands of this turn, for the thread link; each batch gets the next sequence number. */
  takeCommands(): { seq: number; calls: unknown[]; transfer: ArrayBuffer[] } | undefined {
    this.#flags &= ~Flag.Scheduled;
    const commands = this.#commands;
    // The next turn's commands get a writer of their own.
    this.#commands = undefined;
    if (commands === undefined || commands.isEmpty || (this.#flags & Flag.Ended) !== 0) return undefined;
    return { seq: ++this.#seq, ...commands.take() };
  }
}
