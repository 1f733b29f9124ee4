import type { SocketBackend, SocketLimitName, SocketSink } from './socket-backend.ts';

/**
 * A `SocketBackend` that passes every call to another one: the base of the decorators that add
 * one concern each (a high-water mark, an observer, a delayed attach) without repeating the
 * whole interface.
 */
export class DelegatingBackend implements SocketBackend {
  protected readonly inner: SocketBackend;

  constructor(inner: SocketBackend) {
    this.inner = inner;
  }

  attach(sink: SocketSink): void {
    this.inner.attach(sink);
  }

  sendText(text: string): number {
    return this.inner.sendText(text);
  }

  sendBinary(data: Uint8Array): number {
    return this.inner.sendBinary(data);
  }

  ping(payload: Uint8Array): void {
    this.inner.ping(payload);
  }

  close(code: number, reason: string): void {
    this.inner.close(code, reason);
  }

  abort(): void {
    this.inner.abort();
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  pause(): void {
    this.inner.pause();
  }

  resume(): void {
    this.inner.resume();
  }

  setLimit(name: SocketLimitName, value: number): void {
    this.inner.setLimit(name, value);
  }

  bytesToWrite(): number {
    return this.inner.bytesToWrite();
  }

  setFrameSignals(enabled: boolean): void {
    this.inner.setFrameSignals(enabled);
  }
}

/** A sink that passes every call to `target` after `observer`'s matching hook (if any) has run. */
export function observedSink(target: SocketSink, observer: Partial<SocketSink>): SocketSink {
  return {
    connected: (info) => { observer.connected?.(info); target.connected(info); },
    textMessage: (text) => { observer.textMessage?.(text); target.textMessage(text); },
    binaryMessage: (data) => { observer.binaryMessage?.(data); target.binaryMessage(data); },
    textFrame: (text, isLast) => { observer.textFrame?.(text, isLast); target.textFrame(text, isLast); },
    binaryFrame: (data, isLast) => { observer.binaryFrame?.(data, isLast); target.binaryFrame(data, isLast); },
    pong: (elapsedMs, payload) => { observer.pong?.(elapsedMs, payload); target.pong(elapsedMs, payload); },
    bytesWritten: (bytes) => { observer.bytesWritten?.(bytes); target.bytesWritten(bytes); },
    error: (error) => { observer.error?.(error); target.error(error); },
    closing: () => { observer.closing?.(); target.closing(); },
    disconnected: (code, reason) => { observer.disconnected?.(code, reason); target.disconnected(code, reason); },
  };
}

/** A backend whose sink calls are also reported to an observer (lifecycle bookkeeping, forwarding). */
export class ObservedBackend extends DelegatingBackend {
  readonly #observer: Partial<SocketSink>;

  constructor(inner: SocketBackend, observer: Partial<SocketSink>) {
    super(inner);
    this.#observer = observer;
  }

  override attach(sink: SocketSink): void {
    this.inner.attach(observedSink(sink, this.#observer));
  }
}

/**
 * A backend whose `attach` is held until `release()`: a server connection waiting in the pending
 * queue reads nothing and delivers nothing until the application takes it, so no signal fires
 * before anyone could listen (Qt loses those; we keep them).
 */
export class DeferredAttachBackend extends DelegatingBackend {
  #sink: SocketSink | undefined;
  #released = false;

  override attach(sink: SocketSink): void {
    this.#sink = sink;
    if (this.#released) this.inner.attach(sink);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#sink !== undefined) this.inner.attach(this.#sink);
  }
}
