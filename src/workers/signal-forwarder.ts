/**
 * The worker end of one owner-side `WebSocket`: a `SocketSink` that collects the connection's
 * signals of one event-loop turn as a flat list. The thread channel gathers the lists of every
 * connection of the thread into one Comlink call per turn (see thread-channel.ts), so no message
 * costs a call of its own, and order is kept: calls go out in the order they happened, batches in
 * the order they were made, over one port.
 */
import type { ConnectionInfo, SocketSink } from '../shared/connection/socket-backend.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';
import { SinkCall } from '../shared/wire/thread-messages.ts';
import type { CommandReceiver } from './command-receiver.ts';

/** Below this a payload is copied by structured clone; above it its buffer is moved (transferred). */
const TransferAboveBytes = 64 * 1024;

/** What the thread channel needs from a forwarder. */
export interface ForwarderOutbox {
  /** The forwarder has calls for this turn (called once per turn, on the first call). */
  markDirty(forwarder: SignalForwarder): void;
}

/** One turn's signals of one connection, taken by the thread channel. */
export interface ForwardedSignals {
  calls: unknown[];
  transfer: ArrayBuffer[];
  /** Payload bytes, for the channel's backlog accounting. */
  bytes: number;
  /** These calls end with `Disconnected`: the connection's last signals. */
  last: boolean;
}

export interface SignalForwarderOptions {
  connectionId: number;
  receiver: CommandReceiver;
  outbox: ForwarderOutbox;
  /** Only lifecycle signals (connected, error, closing, disconnected): the handler-module mode. */
  lifecycleOnly: boolean;
}

export class SignalForwarder implements SocketSink {
  readonly connectionId: number;
  readonly receiver: CommandReceiver;
  readonly #options: SignalForwarderOptions;
  #calls: unknown[] = [];
  #transfer: ArrayBuffer[] = [];
  #bytes = 0;
  #dirty = false;
  #finished = false;
  #resolveDone!: () => void;
  /** Resolves once the owner has received the `disconnected` signal. */
  readonly done: Promise<void>;

  constructor(options: SignalForwarderOptions) {
    this.connectionId = options.connectionId;
    this.receiver = options.receiver;
    this.#options = options;
    this.done = new Promise((resolve) => { this.#resolveDone = resolve; });
  }

  /** The calls gathered since the last take (the thread channel calls this once per turn). */
  take(): ForwardedSignals {
    const taken = { calls: this.#calls, transfer: this.#transfer, bytes: this.#bytes, last: this.#finished };
    this.#calls = [];
    this.#transfer = [];
    this.#bytes = 0;
    this.#dirty = false;
    return taken;
  }

  /** The owner acknowledged the batch that carried this connection's last signals. */
  delivered(): void {
    this.#resolveDone();
  }

  connected(info: ConnectionInfo): void {
    this.#push1(SinkCall.Connected, info);
  }

  textMessage(text: string): void {
    if (this.#options.lifecycleOnly) return;
    this.#bytes += text.length;
    this.#push1(SinkCall.Text, text);
  }

  binaryMessage(data: Uint8Array): void {
    if (this.#options.lifecycleOnly) return;
    this.#push1(SinkCall.Binary, this.#payload(data));
  }

  textFrame(text: string, isLastFrame: boolean): void {
    if (this.#options.lifecycleOnly) return;
    this.#bytes += text.length;
    this.#push2(SinkCall.TextFrame, text, isLastFrame);
  }

  binaryFrame(data: Uint8Array, isLastFrame: boolean): void {
    if (this.#options.lifecycleOnly) return;
    this.#push2(SinkCall.BinaryFrame, this.#payload(data), isLastFrame);
  }

  pong(elapsedMs: number, payload: Uint8Array): void {
    if (this.#options.lifecycleOnly) return;
    this.#push2(SinkCall.Pong, elapsedMs, this.#payload(payload));
  }

  bytesWritten(bytes: number): void {
    if (this.#options.lifecycleOnly) return;
    this.#push1(SinkCall.BytesWritten, bytes);
  }

  error(error: WebSocketError): void {
    this.#push1(SinkCall.Error, error.toJSON());
  }

  closing(): void {
    this.#calls.push(SinkCall.Closing);
    this.#markDirty();
  }

  disconnected(code: number, reason: string): void {
    this.#finished = true;
    this.#push2(SinkCall.Disconnected, code, reason);
  }

  #push1(call: SinkCall, a: unknown): void {
    this.#calls.push(call, a);
    this.#markDirty();
  }

  #push2(call: SinkCall, a: unknown, b: unknown): void {
    this.#calls.push(call, a, b);
    this.#markDirty();
  }

  #markDirty(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    this.#options.outbox.markDirty(this);
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
      this.#transfer.push(own.buffer);
      return own;
    }
    // A buffer may be listed once only; the same large payload could be passed twice.
    if (data.byteLength >= TransferAboveBytes && !this.#transfer.includes(buffer)) this.#transfer.push(buffer);
    return data;
  }
}
