import { CloseCode } from '../engine/close-code.ts';
import { SocketError, WebSocketError } from '../engine/errors.ts';
import { DelegatingBackend } from './delegating-backend.ts';
import type { SocketBackend, SocketSink } from './socket-backend.ts';

/**
 * Bounds the bytes one connection may queue for a peer that stops reading. Past the mark the
 * connection is closed with 1008 (policy violated) and dropped shortly after, because a peer that
 * reads nothing will never read our Close frame either: memory stays bounded instead of growing
 * with every send. `bytesToWrite`/`bytesWritten` let well-behaved senders stay below the mark.
 */
export class HighWaterMarkBackend extends DelegatingBackend {
  readonly #highWaterMark: number;
  readonly #graceMs: number;
  #sink: SocketSink | undefined;
  #tripped = false;
  #graceTimer: NodeJS.Timeout | undefined;

  /**
   * @param highWaterMark queued wire bytes above which the connection is closed
   * @param graceMs how long the Close frame gets before the connection is dropped
   */
  constructor(inner: SocketBackend, highWaterMark: number, graceMs: number) {
    super(inner);
    this.#highWaterMark = highWaterMark;
    this.#graceMs = graceMs;
  }

  override attach(sink: SocketSink): void {
    this.#sink = sink;
    this.inner.attach({
      ...sinkMethods(sink),
      disconnected: (code, reason) => {
        if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
        // Our own 1008 is why the connection ended, even when the peer never answered it.
        if (this.#tripped && code === CloseCode.AbnormalDisconnection) sink.disconnected(CloseCode.PolicyViolated, overLimitReason);
        else sink.disconnected(code, reason);
      },
    });
  }

  override sendText(text: string): number {
    const queued = this.inner.sendText(text);
    this.#check();
    return queued;
  }

  override sendBinary(data: Uint8Array): number {
    const queued = this.inner.sendBinary(data);
    this.#check();
    return queued;
  }

  #check(): void {
    if (this.#tripped || this.inner.bytesToWrite() <= this.#highWaterMark) return;
    this.#tripped = true;
    const error = new WebSocketError(SocketError.PolicyViolated,
      `More than ${this.#highWaterMark} bytes queued for a peer that is not reading`, CloseCode.PolicyViolated);
    // Not from inside the caller's send: the error signal arrives as its own event.
    queueMicrotask(() => this.#sink?.error(error));
    this.inner.close(CloseCode.PolicyViolated, overLimitReason);
    this.#graceTimer = setTimeout(() => this.inner.abort(), this.#graceMs).unref();
  }
}

const overLimitReason = 'Send buffer limit exceeded';

/** The sink's methods bound to it, for spreading into a sink that overrides one of them. */
function sinkMethods(sink: SocketSink): SocketSink {
  return {
    connected: (info) => sink.connected(info),
    textMessage: (text) => sink.textMessage(text),
    binaryMessage: (data) => sink.binaryMessage(data),
    textFrame: (text, isLast) => sink.textFrame(text, isLast),
    binaryFrame: (data, isLast) => sink.binaryFrame(data, isLast),
    pong: (elapsedMs, payload) => sink.pong(elapsedMs, payload),
    bytesWritten: (bytes) => sink.bytesWritten(bytes),
    error: (error) => sink.error(error),
    closing: () => sink.closing(),
    disconnected: (code, reason) => sink.disconnected(code, reason),
  };
}
