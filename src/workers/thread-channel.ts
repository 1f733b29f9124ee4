/**
 * The worker end of a thread link: one MessagePort per worker thread, over which every
 * connection of the thread talks to the owner. Once per event-loop turn it gathers the signals of
 * every connection that had any into one Comlink call; the owner's commands for the thread arrive
 * the same way, one call per owner turn, and are dispatched to the connections.
 *
 * Backpressure: when the owner falls behind (too many batches or payload bytes awaiting its
 * reply) every connection of the thread stops reading, which is real TCP backpressure on the
 * clients, until the owner catches up. Nothing is dropped.
 */
import type { Remote } from 'comlink';
import * as Comlink from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import { portEndpoint } from '../shared/wire/comlink-port.ts';
import type { OwnerThreadApi, WorkerThreadApi } from '../shared/wire/thread-messages.ts';
import { writeConnectionSignals, type WorkerStatus } from '../shared/wire/signal-batch.ts';
import {
  readThreadCommands,
  writeStatus,
  type ThreadCommandBatch,
  type ThreadCommandReader,
  type ThreadStatusList,
} from '../shared/wire/command-batch.ts';
import { PauseReason } from './command-receiver.ts';
import type { ForwarderOutbox, SignalForwarder } from './signal-forwarder.ts';

/** Batches awaiting the owner's reply above which reading pauses. */
const MaxBatchesInFlight = 8;
/** Payload bytes awaiting the owner's reply above which reading pauses. */
const MaxBytesInFlight = 16 * 1024 * 1024;

export class ThreadChannel implements WorkerThreadApi, ForwarderOutbox, ThreadCommandReader {
  /** Kept referenced for the thread's life: a collected proxy can hang its calls (comlink #692). */
  readonly #owner: Remote<OwnerThreadApi>;
  readonly #connections = new Map<number, SignalForwarder>();
  #dirty: SignalForwarder[] = [];
  #scheduled = false;
  #inFlight = 0;
  #bytesInFlight = 0;
  #behind = false;

  constructor(port: MessagePort) {
    const endpoint = portEndpoint(port);
    this.#owner = Comlink.wrap<OwnerThreadApi>(endpoint);
    Comlink.expose(this, endpoint);
    // The link must not keep the thread alive on its own: the connections' sockets do.
    port.unref();
  }

  register(forwarder: SignalForwarder): void {
    this.#connections.set(forwarder.connectionId, forwarder);
    if (this.#behind) forwarder.receiver.setPaused(PauseReason.OwnerBacklog, true);
  }

  unregister(forwarder: SignalForwarder): void {
    this.#connections.delete(forwarder.connectionId);
  }

  // ---- commands from the owner ------------------------------------------------------------------

  /** The statuses of the batch being read (readThreadCommands is synchronous). */
  #statuses: ThreadStatusList = [];

  commands(batch: ThreadCommandBatch): ThreadStatusList {
    this.#statuses = [];
    readThreadCommands(batch, this);
    return this.#statuses;
  }

  connectionCommands(connectionId: number, seq: number, calls: unknown[]): void {
    const forwarder = this.#connections.get(connectionId);
    // A connection that has ended: its mirror learns that from its last signals.
    if (forwarder === undefined) return;
    forwarder.receiver.commands(seq, calls);
    writeStatus(this.#statuses, connectionId, forwarder.receiver.status());
  }

  async flush(connectionId: number): Promise<WorkerStatus> {
    const forwarder = this.#connections.get(connectionId);
    if (forwarder === undefined) return { appliedSeq: 0, bytesToWrite: 0 };
    return forwarder.receiver.flush();
  }

  // ---- signals to the owner -----------------------------------------------------------------------

  markDirty(forwarder: SignalForwarder): void {
    this.#dirty.push(forwarder);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate: every read of this poll phase, on every connection, joins the batch.
    setImmediate(this.#send);
  }

  readonly #send = (): void => {
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    const entries: unknown[] = [];
    const transfer: ArrayBuffer[] = [];
    const finished: SignalForwarder[] = [];
    let bytes = 0;
    for (const forwarder of dirty) {
      const taken = forwarder.take();
      writeConnectionSignals(entries, forwarder.connectionId, forwarder.receiver.status(), taken.calls);
      for (const buffer of taken.transfer) transfer.push(buffer);
      bytes += taken.bytes;
      if (taken.last) finished.push(forwarder);
    }
    if (entries.length === 0) return;
    const batch = { entries };
    this.#inFlight++;
    this.#bytesInFlight += bytes;
    const settled = (): void => {
      this.#inFlight--;
      this.#bytesInFlight -= bytes;
      this.#updateBackpressure();
      for (const forwarder of finished) forwarder.delivered();
    };
    Promise.resolve(this.#owner.signals(transfer.length > 0 ? Comlink.transfer(batch, transfer) : batch)).then(settled, settled);
    this.#updateBackpressure();
  };

  #updateBackpressure(): void {
    const behind = this.#inFlight > MaxBatchesInFlight || this.#bytesInFlight > MaxBytesInFlight;
    if (behind === this.#behind) return;
    this.#behind = behind;
    for (const forwarder of this.#connections.values()) forwarder.receiver.setPaused(PauseReason.OwnerBacklog, behind);
  }
}

let channel: Promise<ThreadChannel> | undefined;

/**
 * This thread's channel, asked of the owner (through `request`, over the asking connection's
 * port) the first time a connection of the thread needs it. Later connections share it.
 */
export function threadChannel(request: () => Promise<MessagePort>): Promise<ThreadChannel> {
  if (channel === undefined) {
    const pending = request().then((port) => new ThreadChannel(port));
    channel = pending;
    // If the request failed, the next connection asks again.
    pending.catch(() => { if (channel === pending) channel = undefined; });
  }
  return channel;
}
