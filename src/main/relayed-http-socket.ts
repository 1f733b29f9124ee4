/**
 * The owner's end of a connection a pool thread handed over to the application's http.Server
 * (see src/workers/worker-http-relay.ts): a Duplex that http.Server serves like a socket
 * (`server.emit('connection', socket)` takes any Duplex), whose reads are the bytes the thread
 * relays from the client and whose writes go back to the thread. It has what http.Server and
 * frameworks read of a socket: the addresses, `encrypted`, and an idle `setTimeout` (keep-alive
 * and request timeouts rely on it).
 *
 * Flow control both ways, so that neither thread buffers what the other cannot take: a write
 * completes once no more than RelayHighWaterMark bytes sent to the thread are still on their way
 * to the OS (the thread reports what it flushed), and when the HTTP server reads less than
 * arrives (push() says so) the thread stops reading the client until it asks for more.
 */
import { Duplex } from 'node:stream';
import { RelayEnding } from '../shared/wire/handshake-batch.ts';
import type { HandOverRequest } from '../shared/wire/handshake-batch.ts';

/** Bytes written and not yet flushed by the thread beyond which a write waits. */
export const RelayHighWaterMark = 1024 * 1024;

/** Where the socket's writes and its end go (the connection's thread link). */
export interface RelayWriter {
  relayWrite(connectionId: number, bytes: Uint8Array): void;
  relayEnd(connectionId: number, ending: RelayEnding): void;
  relayReading(connectionId: number, reading: boolean): void;
}

export class RelayedHttpSocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  readonly localAddress: string;
  readonly localPort: number;
  /** Set over TLS, as on a TLSSocket (Express's `req.secure`, Node's `req.socket.encrypted`). */
  readonly encrypted: true | undefined;
  readonly #connectionId: number;
  readonly #writer: RelayWriter;
  #idleMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The thread's side is gone: nothing more may be sent to it. */
  #gone = false;
  #ended = false;
  /** Bytes sent to the thread that it has not reported flushed. */
  #unflushed = 0;
  /** The callback of a write waiting for the thread to flush. */
  #waitingWrite: ((error?: Error | null) => void) | undefined;
  /** The thread was asked to stop reading the client. */
  #readingStopped = false;

  constructor(connectionId: number, writer: RelayWriter, request: HandOverRequest) {
    super({ allowHalfOpen: true });
    this.#connectionId = connectionId;
    this.#writer = writer;
    this.remoteAddress = request.peerAddress;
    this.remotePort = request.peerPort;
    this.remoteFamily = request.peerAddress.includes(':') ? 'IPv6' : 'IPv4';
    this.localAddress = request.localAddress;
    this.localPort = request.localPort;
    this.encrypted = request.secure ? true : undefined;
    this.receive(request.received);
  }

  /** Bytes from the client. */
  receive(bytes: Uint8Array): void {
    this.#touch();
    if (!this.push(bytes) && !this.#readingStopped && !this.#gone) {
      this.#readingStopped = true;
      this.#writer.relayReading(this.#connectionId, false);
    }
  }

  /** The thread handed `bytes` of our writes to the OS. */
  flushed(bytes: number): void {
    this.#unflushed -= bytes;
    const waiting = this.#waitingWrite;
    if (waiting !== undefined && this.#unflushed <= RelayHighWaterMark) {
      this.#waitingWrite = undefined;
      waiting();
    }
  }

  /** The client ended its side. */
  receiveEnd(): void {
    this.push(null);
  }

  /** The thread's side is closed: the socket is done. */
  gone(): void {
    this.#gone = true;
    this.push(null);
    this.destroy();
  }

  override _read(): void {
    if (!this.#readingStopped || this.#gone) return;
    this.#readingStopped = false;
    this.#writer.relayReading(this.#connectionId, true);
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    if (this.#gone) {
      callback();
      return;
    }
    this.#writer.relayWrite(this.#connectionId, chunk);
    this.#unflushed += chunk.length;
    if (this.#unflushed <= RelayHighWaterMark) callback();
    else this.#waitingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#ended = true;
    if (!this.#gone) this.#writer.relayEnd(this.#connectionId, RelayEnding.End);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#waitingWrite = undefined;
    if (!this.#gone && !this.#ended) this.#writer.relayEnd(this.#connectionId, RelayEnding.Destroy);
    this.#gone = true;
    callback(error);
  }

  /** net.Socket's: 'timeout' after `ms` without a byte either way; 0 disables. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#idleMs = ms;
    if (callback !== undefined) this.once('timeout', callback);
    this.#touch();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  #touch(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = this.#idleMs > 0 && !this.destroyed ? setTimeout(() => this.emit('timeout'), this.#idleMs) : undefined;
    this.#idleTimer?.unref();
  }
}
