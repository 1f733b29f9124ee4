/**
 * The owner end of a thread link: one MessagePort per pool thread that carries the traffic of
 * every connection of that thread. Signal batches from the thread (one per worker turn) are
 * dispatched to the connections in order; commands from the owner-side sockets of the thread
 * leave in one Comlink call per owner turn.
 */
import type { Remote } from 'comlink';
import * as Comlink from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import type { OwnerThreadApi, WorkerThreadApi } from '../shared/wire/thread-messages.ts';
import {
  countSignalCalls,
  readThreadSignals,
  type ThreadSignalBatch,
  type ThreadSignalReader,
  type WorkerStatus,
} from '../shared/wire/signal-batch.ts';
import { readStatuses, writeConnectionCommands, type ThreadStatusList, type ThreadStatusReader } from '../shared/wire/command-batch.ts';
import { portEndpoint } from '../shared/wire/comlink-port.ts';

/** Counters of the traffic between the threads, for measurements and tests. */
export interface ThreadTrafficStats {
  /** Comlink calls that carried signals from threads (one per worker event-loop turn with any). */
  signalCalls: number;
  /** Sink calls (messages, frames, pongs, bytesWritten, lifecycle) inside those signal calls. */
  signalEvents: number;
  /** Comlink calls that carried commands to threads (one per owner event-loop turn and thread with any). */
  commandCalls: number;
}

/** What the link delivers one connection's signals to. */
export interface LinkedConnection {
  signals(link: PoolThreadLink, status: WorkerStatus, calls: unknown[]): void;
}

/** An owner-side socket with commands to send (see WorkerMirrorBackend). */
export interface CommandSource {
  readonly connectionId: number;
  /** The commands gathered since the last take, or undefined if there are none. */
  takeCommands(): { seq: number; calls: unknown[]; transfer: ArrayBuffer[] } | undefined;
  applyStatus(status: WorkerStatus): void;
}

export class PoolThreadLink implements OwnerThreadApi, ThreadSignalReader, ThreadStatusReader {
  readonly threadId: number;
  /** Kept referenced until the link closes, then released (comlink #692). */
  readonly #worker: Remote<WorkerThreadApi>;
  readonly #port: MessagePort;
  readonly #connections: ReadonlyMap<number, LinkedConnection>;
  readonly #stats: ThreadTrafficStats;
  readonly #sources = new Map<number, CommandSource>();
  #dirty: CommandSource[] = [];
  #scheduled = false;
  #closed = false;

  constructor(threadId: number, port: MessagePort, connections: ReadonlyMap<number, LinkedConnection>, stats: ThreadTrafficStats, onClose: () => void) {
    this.threadId = threadId;
    this.#port = port;
    this.#connections = connections;
    this.#stats = stats;
    const endpoint = portEndpoint(port);
    this.#worker = Comlink.wrap<WorkerThreadApi>(endpoint);
    Comlink.expose(this, endpoint);
    // The connections keep the process alive, not the link.
    port.unref();
    // The thread ended (it died or the pool was destroyed): its end of the port closed with it.
    port.once('close', () => {
      this.close();
      onClose();
    });
  }

  // ---- signals from the thread ----------------------------------------------------------------

  signals(batch: ThreadSignalBatch): void {
    this.#stats.signalCalls++;
    readThreadSignals(batch, this);
  }

  connectionSignals(connectionId: number, appliedSeq: number, bytesToWrite: number, calls: unknown[]): void {
    this.#stats.signalEvents += countSignalCalls(calls);
    const connection = this.#connections.get(connectionId);
    if (connection === undefined) return;
    try {
      connection.signals(this, { appliedSeq, bytesToWrite }, calls);
    } catch (error) {
      // A listener of the application threw. Comlink would send the error to the worker; it
      // belongs to this thread, where it surfaces as any throwing listener's does.
      queueMicrotask(() => { throw error; });
    }
  }

  // ---- commands to the thread -----------------------------------------------------------------------

  /** `source` has commands for this turn (called once per turn, on its first command). */
  queue(source: CommandSource): void {
    if (this.#closed) return;
    this.#sources.set(source.connectionId, source);
    this.#dirty.push(source);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#sendCommands);
  }

  /** Sends `source`'s commands now (ahead of the turn's batch), e.g. before a flush. */
  sendNow(source: CommandSource): void {
    this.#send([source]);
  }

  flush(connectionId: number): Promise<WorkerStatus> {
    if (this.#closed) return Promise.resolve({ appliedSeq: 0, bytesToWrite: 0 });
    this.#stats.commandCalls++;
    return Promise.resolve(this.#worker.flush(connectionId));
  }

  /** The connection ended: its source is forgotten. */
  forget(connectionId: number): void {
    this.#sources.delete(connectionId);
  }

  readonly #sendCommands = (): void => {
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    this.#send(dirty);
  };

  #send(sources: CommandSource[]): void {
    if (this.#closed) return;
    const entries: unknown[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const source of sources) {
      const taken = source.takeCommands();
      if (taken === undefined) continue;
      writeConnectionCommands(entries, source.connectionId, taken.seq, taken.calls);
      for (const buffer of taken.transfer) transfer.push(buffer);
    }
    if (entries.length === 0) return;
    this.#stats.commandCalls++;
    const batch = { entries };
    const reply = this.#worker.commands(transfer.length > 0 ? Comlink.transfer(batch, transfer) : batch);
    Promise.resolve(reply).then(this.#readStatuses, ignore);
  }

  readonly #readStatuses = (statuses: ThreadStatusList): void => {
    readStatuses(statuses, this);
  };

  connectionStatus(connectionId: number, appliedSeq: number, bytesToWrite: number): void {
    this.#sources.get(connectionId)?.applyStatus({ appliedSeq, bytesToWrite });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sources.clear();
    this.#dirty = [];
    this.#worker[Comlink.releaseProxy]();
    this.#port.close();
  }
}

function ignore(): void {}
