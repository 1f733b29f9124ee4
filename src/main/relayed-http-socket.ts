/**
 * The owner's end of a connection a pool thread handed over to the application's http.Server
 * (see src/workers/worker-http-relay.ts): a Duplex that http.Server serves like a socket
 * (`server.emit('connection', socket)` takes any Duplex), whose reads are the bytes the thread
 * relays from the client and whose writes go back to the thread. It has what http.Server and
 * frameworks read of a socket: the addresses, `encrypted`, and an idle `setTimeout` (keep-alive
 * and request timeouts rely on it).
 */
import { Duplex } from 'node:stream';
import { RelayEnding } from '../shared/wire/handshake-batch.ts';
import type { HandOverRequest } from '../shared/wire/handshake-batch.ts';

/** Where the socket's writes and its end go (the connection's thread link). */
export interface RelayWriter {
  relayWrite(connectionId: number, bytes: Uint8Array): void;
  relayEnd(connectionId: number, ending: RelayEnding): void;
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
    this.push(request.received);
  }

  /** Bytes from the client. */
  receive(bytes: Uint8Array): void {
    this.#touch();
    this.push(bytes);
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

  override _read(): void {}

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    if (!this.#gone) this.#writer.relayWrite(this.#connectionId, chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#ended = true;
    if (!this.#gone) this.#writer.relayEnd(this.#connectionId, RelayEnding.End);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
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
