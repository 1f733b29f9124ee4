/**
 * The worker end of one owner-side `WebSocket`: the connection's signals written in the
 * signal-batch format, one list per event-loop turn. The thread channel gathers the lists of
 * every connection of the thread into one message per turn (see thread-channel.ts), so no
 * message costs a call of its own, and order is kept: calls go out in the order they happened,
 * batches in the order they were made, over one port.
 */
import { SignalWriter, type WrittenSignals } from '../shared/wire/signal-batch.ts';
import { PauseReason, type CommandReceiver } from './command-receiver.ts';

/**
 * One connection's signals awaiting the owner's answer (payload bytes, calls) above which that
 * connection alone stops reading: a client that floods gets TCP backpressure instead of a queue
 * on the owner, and the thread's other connections keep their share (the thread-wide bound in
 * thread-channel.ts is the last resort).
 */
const MaxBytesInFlight = 4 * 1024 * 1024;
const MaxCallsInFlight = 4096;

/** What the thread channel needs from a forwarder. */
export interface ForwarderOutbox {
  /** The forwarder has calls for this turn (called once per turn, on the first call). */
  markDirty(forwarder: SignalForwarder): void;
  /** The owner has received the forwarder's `disconnected` signal: nothing more crosses for it. */
  over(forwarder: SignalForwarder): void;
}

/**
 * The batches of a forwarder the owner has not answered yet, oldest first, and their sums: made
 * for the first batch taken and dropped once the owner has answered all of them. Most
 * connections send a batch or two (opened, ended) and then nothing for a long time; an idle one
 * holds none of this.
 */
class InFlight {
  readonly batches: Array<{ bytes: number; calls: number }> = [];
  bytes = 0;
  calls = 0;
  flooding = false;
}

export class SignalForwarder extends SignalWriter {
  readonly connectionId: number;
  readonly receiver: CommandReceiver;
  readonly #outbox: ForwarderOutbox;
  /** Batches taken by the channel, and those the owner has answered (in order: one port). */
  #taken = 0;
  #settled = 0;
  #lastTaken = -1;
  /** Made for the first `seen()` that has to wait. */
  #seenWaiters: Array<{ batch: number; resolve: () => void }> | undefined;
  #inFlight: InFlight | undefined;

  /** @param lifecycleOnly a handler module serves the connection here: the owner sees only its lifecycle */
  constructor(connectionId: number, receiver: CommandReceiver, outbox: ForwarderOutbox, lifecycleOnly: boolean) {
    super(lifecycleOnly);
    this.connectionId = connectionId;
    this.receiver = receiver;
    this.#outbox = outbox;
  }

  protected override written(): void {
    this.#outbox.markDirty(this);
  }

  override take(): WrittenSignals {
    const taken = super.take();
    this.#taken++;
    if (taken.last) this.#lastTaken = this.#taken;
    const inFlight = (this.#inFlight ??= new InFlight());
    inFlight.batches.push({ bytes: taken.bytes, calls: taken.calls.length });
    inFlight.bytes += taken.bytes;
    inFlight.calls += taken.calls.length;
    this.#updateFlooding(inFlight);
    return taken;
  }

  /**
   * The owner acknowledged the oldest batch in flight: its listeners have run, and the commands
   * they made came in the same owner turn as the acknowledgement, applied right after it (the
   * waiters resolved here run later, as microtasks).
   */
  batchSettled(): void {
    const settled = ++this.#settled;
    const inFlight = this.#inFlight;
    const batch = inFlight?.batches.shift();
    if (batch !== undefined) {
      inFlight!.bytes -= batch.bytes;
      inFlight!.calls -= batch.calls;
      this.#updateFlooding(inFlight!);
      // Nothing in flight is nothing held (and no longer flooding: the sums are 0).
      if (inFlight!.batches.length === 0) this.#inFlight = undefined;
    }
    const waiters = this.#seenWaiters;
    if (waiters !== undefined && waiters.length > 0) {
      const still = waiters.filter((waiter) => waiter.batch > settled);
      for (const waiter of waiters) if (waiter.batch <= settled) waiter.resolve();
      this.#seenWaiters = still;
    }
    if (settled === this.#lastTaken) this.#outbox.over(this);
  }

  #updateFlooding(inFlight: InFlight): void {
    const flooding = inFlight.bytes > MaxBytesInFlight || inFlight.calls > MaxCallsInFlight;
    if (flooding === inFlight.flooding) return;
    inFlight.flooding = flooding;
    this.receiver.setPaused(PauseReason.Flooding, flooding);
  }

  /** See SocketSink.seen: resolves when the batch carrying what was written so far is answered. */
  seen(): Promise<void> | undefined {
    const batch = this.#taken + (this.hasCalls ? 1 : 0);
    if (batch <= this.#settled) return undefined;
    return new Promise((resolve) => (this.#seenWaiters ??= []).push({ batch, resolve }));
  }
}
