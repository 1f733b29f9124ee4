/**
 * Owner → worker: the `SocketBackend` calls an owner-side `WebSocket` makes on a connection that
 * lives in a pool thread, as flat batches; the writer and the reader side by side (see
 * signal-batch.ts for the other direction).
 *
 * One connection's commands of one owner turn: `[CommandCall, ...args]*`, each call with the
 * fixed arity of `CommandCallArity`. One thread's batch (`ThreadCommandBatch.entries`):
 * `[connectionId, seq, calls]*`, where `seq` grows by one per batch of a connection so that the
 * worker's `appliedSeq` tells the owner which of its batches have been applied. The worker
 * answers with statuses: `[connectionId, appliedSeq, bytesToWrite]*`.
 */
import type { SocketLimitName } from '../connection/socket-backend.ts';
import type { LivenessTimeoutName } from '../engine/liveness.ts';
import type { WorkerStatus } from './signal-batch.ts';

export const CommandCall = {
  /** (text: string) */
  SendText: 0,
  /** (data: Uint8Array) */
  SendBinary: 1,
  /** (payload: Uint8Array) */
  Ping: 2,
  /** (code: number, reason: string) */
  Close: 3,
  /** () */
  Abort: 4,
  /** () */
  Pause: 5,
  /** () */
  Resume: 6,
  /** (name: SocketLimitName, value: number) */
  SetLimit: 7,
  /** (enabled: boolean) */
  FrameSignals: 8,
  /** (name: LivenessTimeoutName, ms: number) */
  SetLivenessTimeout: 9,
  /** () the owner took the connection from its pending queue: reading may start */
  Taken: 10,
  /** (signals: number) OptionalSignal bits */
  OptionalSignals: 11,
  /** (text: string): past permessage-deflate */
  SendTextUncompressed: 12,
  /** (data: Uint8Array): past permessage-deflate */
  SendBinaryUncompressed: 13,
  /** (topic: string) */
  Subscribe: 14,
  /** (topic: string) */
  Unsubscribe: 15,
} as const;
export type CommandCall = (typeof CommandCall)[keyof typeof CommandCall];

/** Arguments each CommandCall carries, indexed by the call number. */
export const CommandCallArity: readonly number[] = [1, 1, 1, 2, 0, 0, 0, 2, 1, 2, 0, 1, 1, 1, 1, 1];

/** One owner event-loop turn of commands for one thread (see the top of this file). */
export interface ThreadCommandBatch {
  /** The turn's handshake answers (handshake-batch.ts), applied before the commands. */
  answers: unknown[];
  entries: unknown[];
}

/** Statuses of the connections a command batch touched: flat `[connectionId, appliedSeq, bytesToWrite]*`. */
export type ThreadStatusList = number[];

/** What a taken writer holds (frozen: it is not written again). */
const Spent: unknown[] = Object.freeze([]) as unknown as unknown[];
const SpentTransfer: ArrayBuffer[] = Object.freeze([]) as unknown as ArrayBuffer[];

/**
 * Writes one turn of one connection's commands, taken once: the next turn gets a writer of its
 * own, so a connection that sends nothing holds none. Payloads must be the writer's own (copies
 * of the caller's buffers): their buffers are moved to the worker, not cloned.
 */
export class CommandWriter {
  #calls: unknown[] = [];
  #transfer: ArrayBuffer[] = [];

  get isEmpty(): boolean {
    return this.#calls.length === 0;
  }

  sendText(text: string, compress = true): void {
    this.#calls.push(compress ? CommandCall.SendText : CommandCall.SendTextUncompressed, text);
  }

  sendBinary(ownCopy: Uint8Array, compress = true): void {
    this.#calls.push(compress ? CommandCall.SendBinary : CommandCall.SendBinaryUncompressed, ownCopy);
    this.#transfer.push(ownCopy.buffer as ArrayBuffer);
  }

  ping(ownCopy: Uint8Array): void {
    this.#calls.push(CommandCall.Ping, ownCopy);
    this.#transfer.push(ownCopy.buffer as ArrayBuffer);
  }

  close(code: number, reason: string): void {
    this.#calls.push(CommandCall.Close, code, reason);
  }

  abort(): void {
    this.#calls.push(CommandCall.Abort);
  }

  pause(): void {
    this.#calls.push(CommandCall.Pause);
  }

  resume(): void {
    this.#calls.push(CommandCall.Resume);
  }

  setLimit(name: SocketLimitName, value: number): void {
    this.#calls.push(CommandCall.SetLimit, name, value);
  }

  setFrameSignals(enabled: boolean): void {
    this.#calls.push(CommandCall.FrameSignals, enabled);
  }

  setLivenessTimeout(name: LivenessTimeoutName, ms: number): void {
    this.#calls.push(CommandCall.SetLivenessTimeout, name, ms);
  }

  taken(): void {
    this.#calls.push(CommandCall.Taken);
  }

  setOptionalSignals(signals: number): void {
    this.#calls.push(CommandCall.OptionalSignals, signals);
  }

  subscribe(topic: string): void {
    this.#calls.push(CommandCall.Subscribe, topic);
  }

  unsubscribe(topic: string): void {
    this.#calls.push(CommandCall.Unsubscribe, topic);
  }

  /** The commands, with the buffers to move. The writer is spent: writing to it again throws. */
  take(): { calls: unknown[]; transfer: ArrayBuffer[] } {
    const taken = { calls: this.#calls, transfer: this.#transfer };
    this.#calls = Spent;
    this.#transfer = SpentTransfer;
    return taken;
  }
}

/** What applies a connection's commands: the `SocketBackend` calls the owner can make. */
export interface CommandTarget {
  /** `compress` false: past permessage-deflate. */
  sendText(text: string, compress: boolean): unknown;
  sendBinary(data: Uint8Array, compress: boolean): unknown;
  ping(payload: Uint8Array): void;
  close(code: number, reason: string): void;
  abort(): void;
  pause(): void;
  resume(): void;
  setLimit(name: SocketLimitName, value: number): void;
  setFrameSignals(enabled: boolean): void;
  setLivenessTimeout(name: LivenessTimeoutName, ms: number): void;
  taken(): void;
  setOptionalSignals(signals: number): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

/** Applies one connection's commands to `target`, in order. */
export function readCommandCalls(calls: readonly unknown[], target: CommandTarget): void {
  let i = 0;
  while (i < calls.length) {
    const call = calls[i] as CommandCall;
    const a = calls[i + 1];
    const b = calls[i + 2];
    const arity = CommandCallArity[call];
    if (arity === undefined || i + 1 + arity > calls.length) throw new Error(`Malformed command batch at ${i}: call ${String(call)}`);
    i += 1 + arity;
    switch (call) {
      case CommandCall.SendText:
        target.sendText(a as string, true);
        break;
      case CommandCall.SendBinary:
        target.sendBinary(a as Uint8Array, true);
        break;
      case CommandCall.SendTextUncompressed:
        target.sendText(a as string, false);
        break;
      case CommandCall.SendBinaryUncompressed:
        target.sendBinary(a as Uint8Array, false);
        break;
      case CommandCall.Ping:
        target.ping(a as Uint8Array);
        break;
      case CommandCall.Close:
        target.close(a as number, b as string);
        break;
      case CommandCall.Abort:
        target.abort();
        break;
      case CommandCall.Pause:
        target.pause();
        break;
      case CommandCall.Resume:
        target.resume();
        break;
      case CommandCall.SetLimit:
        target.setLimit(a as SocketLimitName, b as number);
        break;
      case CommandCall.FrameSignals:
        target.setFrameSignals(a as boolean);
        break;
      case CommandCall.SetLivenessTimeout:
        target.setLivenessTimeout(a as LivenessTimeoutName, b as number);
        break;
      case CommandCall.Taken:
        target.taken();
        break;
      case CommandCall.OptionalSignals:
        target.setOptionalSignals(a as number);
        break;
      case CommandCall.Subscribe:
        target.subscribe(a as string);
        break;
      case CommandCall.Unsubscribe:
        target.unsubscribe(a as string);
        break;
    }
  }
}

// ---- the thread envelope --------------------------------------------------------------------------

export function writeConnectionCommands(entries: unknown[], connectionId: number, seq: number, calls: unknown[]): void {
  entries.push(connectionId, seq, calls);
}

/** What reads a thread's command batch: one call per connection in it, in order. */
export interface ThreadCommandReader {
  connectionCommands(connectionId: number, seq: number, calls: unknown[]): void;
}

export function readThreadCommands(batch: ThreadCommandBatch, reader: ThreadCommandReader): void {
  const entries = batch.entries;
  for (let i = 0; i < entries.length; i += 3) {
    reader.connectionCommands(entries[i] as number, entries[i + 1] as number, entries[i + 2] as unknown[]);
  }
}

export function writeStatus(statuses: ThreadStatusList, connectionId: number, status: WorkerStatus): void {
  statuses.push(connectionId, status.appliedSeq, status.bytesToWrite);
}

/** What reads the worker's statuses. */
export interface ThreadStatusReader {
  connectionStatus(connectionId: number, appliedSeq: number, bytesToWrite: number): void;
}

export function readStatuses(statuses: ThreadStatusList, reader: ThreadStatusReader): void {
  for (let i = 0; i < statuses.length; i += 3) reader.connectionStatus(statuses[i]!, statuses[i + 1]!, statuses[i + 2]!);
}
