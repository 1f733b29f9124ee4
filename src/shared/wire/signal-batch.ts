/**
 * Worker → owner: the `SocketSink` calls of connections that live in a pool thread, as flat
 * batches. The writer and the reader of the format sit side by side here (as `frame-codec.ts`
 * keeps a frame's reader and writer), so that every reader walks the format the writer wrote
 * and nobody reads positions.
 *
 * One connection's calls of one turn: `[SinkCall, ...args, SinkCall, ...args]`, each call with
 * the fixed arity of `SinkCallArity`. A flat array of primitives clones much faster than an array
 * of objects, and it keeps the calls in the order they happened.
 *
 * One thread's batch of one turn (`ThreadSignalBatch.entries`): `[connectionId, appliedSeq,
 * bytesToWrite, calls]*`.
 */
import { WebSocketError, type WebSocketErrorData } from '../engine/errors.ts';
import type { ConnectionInfo, SocketSink } from '../connection/socket-backend.ts';

export const SinkCall = {
  /** (info: ConnectionInfo) */
  Connected: 0,
  /** (text: string) */
  Text: 1,
  /** (data: Uint8Array) */
  Binary: 2,
  /** (text: string, isLastFrame: boolean) */
  TextFrame: 3,
  /** (data: Uint8Array, isLastFrame: boolean) */
  BinaryFrame: 4,
  /** (elapsedMs: number, payload: Uint8Array) */
  Pong: 5,
  /** (bytes: number) */
  BytesWritten: 6,
  /** (error: WebSocketErrorData) */
  Error: 7,
  /** () */
  Closing: 8,
  /** (code: number, reason: string) */
  Disconnected: 9,
  /** () */
  ReadChannelFinished: 10,
} as const;
export type SinkCall = (typeof SinkCall)[keyof typeof SinkCall];

/** Arguments each SinkCall carries, indexed by the call number. */
export const SinkCallArity: readonly number[] = [1, 1, 1, 2, 2, 2, 1, 1, 0, 2, 0];

/** Below this a payload is copied by structured clone; above it its buffer is moved (transferred). */
const TransferAboveBytes = 64 * 1024;

/** Where one connection's worker side stands, as the owner's mirror needs it. */
export interface WorkerStatus {
  /** The last command batch of this connection the worker applied (0 before any). */
  appliedSeq: number;
  /** Wire bytes queued in the worker and not yet handed to the OS. */
  bytesToWrite: number;
}

/** One worker event-loop turn of one thread (see the top of this file). */
export interface ThreadSignalBatch {
  /** The turn's handshake calls (handshake-batch.ts), read before the signals. */
  handshakes: unknown[];
  entries: unknown[];
}

/** One turn's calls of one connection, as the writer hands them over. */
export interface WrittenSignals {
  calls: unknown[];
  /** Buffers of payloads in `calls` to move rather than copy. */
  transfer: ArrayBuffer[];
  /** Payload bytes (text length counted as bytes), for backlog accounting. */
  bytes: number;
  /** The calls end with `Disconnected`: the connection's last ones. */
  last: boolean;
}

/**
 * What a writer holds between turns with nothing written (frozen: a push into one would throw):
 * most of a thread's connections write nothing in most turns, and a lifecycle-only one nearly
 * never does, so a turn's lists are made by its first call.
 */
const NoCalls: unknown[] = Object.freeze([]) as unknown as unknown[];
const NoTransfer: ArrayBuffer[] = Object.freeze([]) as unknown as ArrayBuffer[];

/**
 * Writes one connection's sink calls. `written()` is called on the first call after each
 * `take()`, so a subclass can schedule the turn's send once. With `lifecycleOnly` (a handler
 * module serves the connection in its thread) only connected, error, closing and disconnected
 * are written: nobody on the owner reads the rest.
 */
export class SignalWriter implements SocketSink {
  readonly lifecycleOnly: boolean;
  #calls: unknown[] = NoCalls;
  #transfer: ArrayBuffer[] = NoTransfer;
  #bytes = 0;
  #pending = false;
  #last = false;

  constructor(lifecycleOnly: boolean) {
    this.lifecycleOnly = lifecycleOnly;
  }

  /** Hook for the first call of a turn. */
  protected written(): void {}

  /** Calls written since the last take. */
  get hasCalls(): boolean {
    return this.#calls.length > 0;
  }

  /** The calls since the last take. */
  take(): WrittenSignals {
    const taken = { calls: this.#calls, transfer: this.#transfer, bytes: this.#bytes, last: this.#last };
    this.#calls = NoCalls;
    this.#transfer = NoTransfer;
    this.#bytes = 0;
    this.#pending = false;
    return taken;
  }

  /** See ConnectedInfo. */
  connected(info: ConnectedInfo): void {
    this.#push(SinkCall.Connected, info);
  }

  textMessage(text: string): void {
    if (this.lifecycleOnly) return;
    this.#bytes += text.length;
    this.#push(SinkCall.Text, text);
  }

  binaryMessage(data: Uint8Array): void {
    if (this.lifecycleOnly) return;
    this.#push(SinkCall.Binary, this.#payload(data));
  }

  textFrame(text: string, isLastFrame: boolean): void {
    if (this.lifecycleOnly) return;
    this.#bytes += text.length;
    this.#push(SinkCall.TextFrame, text, isLastFrame);
  }

  binaryFrame(data: Uint8Array, isLastFrame: boolean): void {
    if (this.lifecycleOnly) return;
    this.#push(SinkCall.BinaryFrame, this.#payload(data), isLastFrame);
  }

  pong(elapsedMs: number, payload: Uint8Array): void {
    if (this.lifecycleOnly) return;
    this.#push(SinkCall.Pong, elapsedMs, this.#payload(payload));
  }

  bytesWritten(bytes: number): void {
    if (this.lifecycleOnly) return;
    this.#push(SinkCall.BytesWritten, bytes);
  }

  error(error: WebSocketError): void {
    this.#push(SinkCall.Error, error.toJSON());
  }

  readChannelFinished(): void {
    if (this.lifecycleOnly) return;
    this.#push(SinkCall.ReadChannelFinished);
  }

  closing(): void {
    this.#push(SinkCall.Closing);
  }

  disconnected(code: number, reason: string): void {
    this.#last = true;
    this.#push(SinkCall.Disconnected, code, reason);
  }

  #push(call: SinkCall, a?: unknown, b?: unknown): void {
    const arity = SinkCallArity[call]!;
    if (this.#calls === NoCalls) this.#calls = [];
    if (arity === 0) this.#calls.push(call);
    else if (arity === 1) this.#calls.push(call, a);
    else this.#calls.push(call, a, b);
    if (this.#pending) return;
    this.#pending = true;
    this.written();
  }

  /**
   * A payload the owner can own outright. A view into a larger buffer (a socket read, Node's
   * pool) would make structured clone copy the whole buffer, so it is cut out first; a large
   * exact buffer is moved instead of copied.
   */
  #payload(data: Uint8Array): Uint8Array {
    this.#bytes += data.byteLength;
    const buffer = data.buffer;
    const exact = data.byteOffset === 0 && data.byteLength === buffer.byteLength && buffer instanceof ArrayBuffer;
    if (!exact) {
      // A fresh copy: its buffer cannot be in the list yet, so no search (a turn may hold thousands).
      const own = Uint8Array.prototype.slice.call(data);
      this.#transferred(own.buffer);
      return own;
    }
    // A buffer may be listed once only; the same large payload could be passed twice.
    if (data.byteLength >= TransferAboveBytes && !this.#transfer.includes(buffer)) this.#transferred(buffer);
    return data;
  }

  #transferred(buffer: ArrayBuffer): void {
    if (this.#transfer === NoTransfer) this.#transfer = [buffer];
    else this.#transfer.push(buffer);
  }
}

/** What a batch of calls does to the connection's life, found by walking the format once. */
export const SignalEffect = {
  /** The closing handshake started: no more sends. */
  Closing: 1,
  /** The batch ends with `Disconnected`: nothing follows. */
  Ended: 2,
} as const;

/** `SignalEffect` bits of one connection's calls; also checks that every call is known and whole. */
export function signalEffects(calls: readonly unknown[]): number {
  let effects = 0;
  let i = 0;
  while (i < calls.length) {
    const call = calls[i] as number;
    const arity = SinkCallArity[call];
    if (arity === undefined || i + 1 + arity > calls.length) {
      throw new Error(`Malformed signal batch at ${i}: call ${String(call)}`);
    }
    if (call === SinkCall.Closing || call === SinkCall.Disconnected) effects |= SignalEffect.Closing;
    i += 1 + arity;
    if (call === SinkCall.Disconnected) {
      if (i !== calls.length) throw new Error('Malformed signal batch: calls after Disconnected');
      effects |= SignalEffect.Ended;
    }
  }
  return effects;
}

/** How many calls a connection's batch holds. */
export function countSignalCalls(calls: readonly unknown[]): number {
  let count = 0;
  for (let i = 0; i < calls.length; i += 1 + SinkCallArity[calls[i] as number]!) count++;
  return count;
}

/** Plays one connection's calls into `sink`, in order. */
export function readSignalCalls(calls: readonly unknown[], sink: SocketSink, from = 0): void {
  let i = from;
  while (i < calls.length) {
    const call = calls[i] as SinkCall;
    const a = calls[i + 1];
    const b = calls[i + 2];
    i += 1 + SinkCallArity[call]!;
    switch (call) {
      case SinkCall.Connected:
        sink.connected(a as ConnectionInfo);
        break;
      case SinkCall.Text:
        sink.textMessage(a as string);
        break;
      case SinkCall.Binary:
        sink.binaryMessage(a as Uint8Array);
        break;
      case SinkCall.TextFrame:
        sink.textFrame(a as string, b as boolean);
        break;
      case SinkCall.BinaryFrame:
        sink.binaryFrame(a as Uint8Array, b as boolean);
        break;
      case SinkCall.Pong:
        sink.pong(a as number, b as Uint8Array);
        break;
      case SinkCall.BytesWritten:
        sink.bytesWritten(a as number);
        break;
      case SinkCall.Error:
        sink.error(WebSocketError.fromJSON(a as WebSocketErrorData));
        break;
      case SinkCall.ReadChannelFinished:
        sink.readChannelFinished();
        break;
      case SinkCall.Closing:
        sink.closing();
        break;
      case SinkCall.Disconnected:
        sink.disconnected(a as number, b as string);
        break;
      default:
        throw new Error(`Unknown sink call ${String(call)} in a signal batch`);
    }
  }
}

/**
 * What a connection's `Connected` carries to the owner: its whole info when the standing
 * acceptance took it; only the extensions its 101 agreed when the owner decided on it (the owner
 * has the rest from the request it decided on: see connectionInfoOf). A connection nobody on
 * the owner observes sends no `Connected`: its thread only counts it (see CountedNews).
 */
export type ConnectedInfo = ConnectionInfo | Pick<ConnectionInfo, 'extensions'>;

/**
 * The `ConnectedInfo` of a connection's first batch, which always opens with `Connected`; the
 * rest of the batch starts at index 2.
 */
export function connectedInfo(calls: readonly unknown[]): ConnectedInfo {
  if (calls[0] !== SinkCall.Connected) throw new Error('The first signal of a connection must be Connected');
  return calls[1] as ConnectedInfo;
}

/** The calls a connection's end makes when its worker side is lost without saying so. */
export function lostConnectionCalls(error: WebSocketError, code: number): unknown[] {
  return [SinkCall.Error, error.toJSON(), SinkCall.Disconnected, code, ''];
}

// ---- the thread envelope --------------------------------------------------------------------------

/** Appends one connection's turn to a thread batch. */
export function writeConnectionSignals(entries: unknown[], connectionId: number, status: WorkerStatus, calls: unknown[]): void {
  entries.push(connectionId, status.appliedSeq, status.bytesToWrite, calls);
}

/** What reads a thread batch: one call per connection in it, in order. */
export interface ThreadSignalReader {
  connectionSignals(connectionId: number, appliedSeq: number, bytesToWrite: number, calls: unknown[]): void;
}

/** Reads the signal entries of a thread batch (its handshakes are read with readHandshakeCalls). */
export function readThreadSignals(batch: ThreadSignalBatch, reader: ThreadSignalReader): void {
  const entries = batch.entries;
  for (let i = 0; i < entries.length; i += 4) {
    reader.connectionSignals(entries[i] as number, entries[i + 1] as number, entries[i + 2] as number, entries[i + 3] as unknown[]);
  }
}
