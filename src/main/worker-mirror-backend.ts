/**
 * The owner-side `SocketBackend` of a connection that lives in a pool thread. Calls from the
 * owner-side `WebSocket` become one command batch per event-loop turn, which the thread link
 * sends with those of the thread's other connections in one Comlink call; the worker's signals
 * become `SocketSink` calls, in order.
 *
 * Qt's API is synchronous where a thread hop is not: `sendTextMessage` must return the bytes
 * queued at once. The mirror answers from what it knows (the payload size while the connection is
 * open, as the engine would) and keeps `bytesToWrite` as the worker's last report plus what the
 * owner queued since, so the figure is current without waiting for the worker.
 */
import { Buffer } from 'node:buffer';
import { CloseCode } from '../shared/engine/close-code.ts';
import { WebSocketError, type WebSocketErrorData } from '../shared/engine/errors.ts';
import { BackendCall, SinkCall, SinkCallArity, type WorkerStatus } from '../shared/wire/thread-messages.ts';
import type { CommandSource, PoolThreadLink } from './pool-thread-link.ts';
import type { ConnectionInfo, SocketBackend, SocketLimitName, SocketSink } from '../shared/connection/socket-backend.ts';

/** Calls held for a socket nobody has taken from the pending queue yet, above which reading pauses. */
const MaxHeldCalls = 4096;

/** Worst-case frame header (RFC 6455 5.2), used until the worker reports the exact figure. */
const FrameHeaderEstimate = 10;

export class WorkerMirrorBackend implements SocketBackend, CommandSource {
  readonly connectionId: number;
  readonly #link: PoolThreadLink;
  #sink: SocketSink | undefined;
  /** Signals that arrived before `attach()`: delivered right after it, so none is lost. */
  #held: unknown[][] = [];
  #heldCalls = 0;
  #pausedForHold = false;
  #userPaused = false;

  #commands: unknown[] = [];
  /** The buffers of the payloads in `#commands` (copies of the caller's): moved, not cloned. */
  #transfer: ArrayBuffer[] = [];
  #seq = 0;
  #scheduled = false;
  /** Command batches the worker has not acknowledged yet, with the wire bytes they queue. */
  #unacked: Array<{ seq: number; bytes: number }> = [];
  #reportedBytesToWrite = 0;

  /** Sends are accepted (the engine would queue them): until close/abort or the peer's Close. */
  #open = true;
  /** The worker sent its last signal (or died): nothing more goes to it. */
  #ended = false;
  #flushWaiters = new Set<() => void>();

  constructor(connectionId: number, link: PoolThreadLink) {
    this.connectionId = connectionId;
    this.#link = link;
  }

  /** Whether the connection is over (the sink got `disconnected`, or will once attached). */
  get isEnded(): boolean {
    return this.#ended;
  }

  // -------------------------------------------------------------------------------------------
  // From the worker

  /** One turn's signals (`Connected` has been taken out by the server already). */
  receive(status: WorkerStatus, calls: unknown[]): void {
    this.applyStatus(status);
    if (calls.length === 0) return;
    // `Disconnected` is always the last call of the worker's last batch.
    if (calls.length >= 3 && calls[calls.length - 3] === SinkCall.Disconnected) {
      this.#ended = true;
      this.#open = false;
    }
    if (this.#sink === undefined || this.#held.length > 0) {
      this.#hold(calls);
      return;
    }
    this.#deliver(calls);
  }

  /** The worker thread died or the task failed: the connection is lost (1006) with this error. */
  workerLost(error: WebSocketError): void {
    if (this.#ended) return;
    const calls = [SinkCall.Error, error.toJSON(), SinkCall.Disconnected, CloseCode.AbnormalDisconnection, ''];
    this.receive({ appliedSeq: this.#seq, bytesToWrite: 0 }, calls);
  }

  #hold(calls: unknown[]): void {
    this.#held.push(calls);
    this.#heldCalls += calls.length;
    if (this.#heldCalls > MaxHeldCalls && !this.#pausedForHold) {
      this.#pausedForHold = true;
      if (!this.#userPaused) this.#push0(BackendCall.Pause);
    }
  }

  #deliver(calls: unknown[]): void {
    const sink = this.#sink!;
    let i = 0;
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
          sink.binaryMessage(asBuffer(a as Uint8Array));
          break;
        case SinkCall.TextFrame:
          sink.textFrame(a as string, b as boolean);
          break;
        case SinkCall.BinaryFrame:
          sink.binaryFrame(asBuffer(a as Uint8Array), b as boolean);
          break;
        case SinkCall.Pong:
          sink.pong(a as number, asBuffer(b as Uint8Array));
          break;
        case SinkCall.BytesWritten:
          sink.bytesWritten(a as number);
          break;
        case SinkCall.Error:
          sink.error(WebSocketError.fromJSON(a as WebSocketErrorData));
          break;
        case SinkCall.Closing:
          this.#open = false;
          sink.closing();
          break;
        case SinkCall.Disconnected:
          this.#markDisconnected();
          sink.disconnected(a as number, b as string);
          break;
        default:
          throw new Error(`Unknown sink call ${String(call)} in a signal batch`);
      }
    }
  }

  #markDisconnected(): void {
    this.#open = false;
    this.#ended = true;
    this.#commands = [];
    this.#transfer = [];
    this.#unacked = [];
    this.#reportedBytesToWrite = 0;
    for (const resolve of this.#flushWaiters) resolve();
    this.#flushWaiters.clear();
  }

  applyStatus(status: WorkerStatus): void {
    this.#reportedBytesToWrite = status.bytesToWrite;
    let drop = 0;
    while (drop < this.#unacked.length && this.#unacked[drop]!.seq <= status.appliedSeq) drop++;
    if (drop > 0) this.#unacked.splice(0, drop);
  }

  // -------------------------------------------------------------------------------------------
  // SocketBackend

  attach(sink: SocketSink): void {
    if (this.#sink !== undefined) throw new Error('WorkerMirrorBackend.attach() called twice');
    this.#sink = sink;
    setImmediate(() => {
      // Delivery may add to #held (a batch arriving meanwhile is held behind the older ones).
      while (this.#held.length > 0) {
        const calls = this.#held.shift()!;
        this.#deliver(calls);
      }
      this.#heldCalls = 0;
      if (this.#pausedForHold) {
        this.#pausedForHold = false;
        // Not after the end: #push0 sends nothing once the connection has ended.
        if (!this.#userPaused) this.#push0(BackendCall.Resume);
      }
    });
  }

  sendText(text: string): number {
    if (!this.#open) return 0;
    const bytes = Buffer.byteLength(text);
    this.#commands.push(BackendCall.SendText, text);
    this.#queued(bytes);
    return bytes;
  }

  sendBinary(data: Uint8Array): number {
    if (!this.#open) return 0;
    // Copied now: the caller may reuse its buffer as soon as this returns.
    const copy = Uint8Array.prototype.slice.call(data);
    this.#commands.push(BackendCall.SendBinary, copy);
    this.#transfer.push(copy.buffer);
    this.#queued(data.byteLength);
    return data.byteLength;
  }

  ping(payload: Uint8Array): void {
    if (!this.#open) return;
    const copy = Uint8Array.prototype.slice.call(payload, 0, 125);
    this.#transfer.push(copy.buffer);
    this.#push1(BackendCall.Ping, copy);
  }

  close(code: number, reason: string): void {
    if (this.#ended) return;
    this.#open = false;
    this.#commands.push(BackendCall.Close, code, reason);
    this.#schedule();
  }

  abort(): void {
    if (this.#ended) return;
    this.#open = false;
    this.#push0(BackendCall.Abort);
  }

  flush(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#link.sendNow(this);
    return new Promise((resolve) => {
      this.#flushWaiters.add(resolve);
      const done = (): void => {
        this.#flushWaiters.delete(resolve);
        resolve();
      };
      this.#link.flush(this.connectionId).then((status) => {
        this.applyStatus(status);
        done();
      }, done);
    });
  }

  pause(): void {
    this.#userPaused = true;
    this.#push0(BackendCall.Pause);
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#pausedForHold) this.#push0(BackendCall.Resume);
  }

  setLimit(name: SocketLimitName, value: number): void {
    this.#commands.push(BackendCall.SetLimit, name, value);
    this.#schedule();
  }

  bytesToWrite(): number {
    if (this.#ended) return 0;
    let total = this.#reportedBytesToWrite;
    for (const { bytes } of this.#unacked) total += bytes;
    return total;
  }

  setFrameSignals(enabled: boolean): void {
    this.#push1(BackendCall.FrameSignals, enabled);
  }

  // -------------------------------------------------------------------------------------------
  // Command batching

  #queued(payloadBytes: number): void {
    const bytes = payloadBytes + FrameHeaderEstimate;
    const last = this.#unacked[this.#unacked.length - 1];
    // Counted against the batch that will carry it (seq + 1 until it is sent).
    if (last !== undefined && last.seq === this.#seq + 1) last.bytes += bytes;
    else this.#unacked.push({ seq: this.#seq + 1, bytes });
    this.#schedule();
  }

  #push0(call: BackendCall): void {
    if (this.#ended) return;
    this.#commands.push(call);
    this.#schedule();
  }

  #push1(call: BackendCall, a: unknown): void {
    if (this.#ended) return;
    this.#commands.push(call, a);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#ended) return;
    this.#scheduled = true;
    this.#link.queue(this);
  }

  /** The commands of this turn, for the thread link; each batch gets the next sequence number. */
  takeCommands(): { seq: number; calls: unknown[]; transfer: ArrayBuffer[] } | undefined {
    this.#scheduled = false;
    if (this.#commands.length === 0 || this.#ended) return undefined;
    const calls = this.#commands;
    const transfer = this.#transfer;
    this.#commands = [];
    this.#transfer = [];
    return { seq: ++this.#seq, calls, transfer };
  }
}

/** A Buffer view (no copy), so that owner-side payloads look the same with every transport. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
