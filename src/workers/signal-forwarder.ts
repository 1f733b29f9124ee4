/**
 * The worker end of one owner-side `WebSocket`: the connection's signals written in the
 * signal-batch format, one list per event-loop turn. The thread channel gathers the lists of
 * every connection of the thread into one message per turn (see thread-channel.ts), so no
 * message costs a call of its own, and order is kept: calls go out in the order they happened,
 * batches in the order they were made, over one port.
 */
import { SignalWriter } from '../shared/wire/signal-batch.ts';
import type { CommandReceiver } from './command-receiver.ts';

/** What the thread channel needs from a forwarder. */
export interface ForwarderOutbox {
  /** The forwarder has calls for this turn (called once per turn, on the first call). */
  markDirty(forwarder: SignalForwarder): void;
}

export class SignalForwarder extends SignalWriter {
  readonly connectionId: number;
  readonly receiver: CommandReceiver;
  readonly #outbox: ForwarderOutbox;
  #resolveDone!: () => void;
  /** Resolves once the owner has received the `disconnected` signal. */
  readonly done: Promise<void>;

  /** @param lifecycleOnly a handler module serves the connection here: the owner sees only its lifecycle */
  constructor(connectionId: number, receiver: CommandReceiver, outbox: ForwarderOutbox, lifecycleOnly: boolean) {
    super(lifecycleOnly);
    this.connectionId = connectionId;
    this.receiver = receiver;
    this.#outbox = outbox;
    this.done = new Promise((resolve) => { this.#resolveDone = resolve; });
  }

  protected override written(): void {
    this.#outbox.markDirty(this);
  }

  /** The owner acknowledged the batch that carried this connection's last signals. */
  delivered(): void {
    this.#resolveDone();
  }
}
