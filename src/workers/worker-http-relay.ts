/**
 * A connection of this thread handed over to the owner's http.Server (its first request was no
 * upgrade, see `ConnectionSettings.httpHandOver`): a pool thread cannot give a socket back to
 * the owner once it has read from it, so its bytes are relayed instead, both ways, until it
 * closes. The owner's end is a Duplex the http.Server serves like any socket
 * (src/main/relayed-http-socket.ts).
 */
import type { Duplex } from 'node:stream';
import { RelayEnding } from '../shared/wire/handshake-batch.ts';

/** Where the relay's news for the owner go (the thread channel's handshake calls). */
export interface RelayOutbox {
  clientData(connectionId: number, bytes: Uint8Array): void;
  clientEnded(connectionId: number): void;
  /** `bytes` of the owner's writes reached the OS: the owner may write that much more. */
  clientFlushed(connectionId: number, bytes: number): void;
}

export class WorkerHttpRelay {
  readonly connectionId: number;
  readonly #stream: Duplex;
  readonly #outbox: RelayOutbox;
  #endSent = false;
  /** Settles when the connection is closed. */
  readonly done: Promise<void>;

  constructor(connectionId: number, stream: Duplex, outbox: RelayOutbox) {
    this.connectionId = connectionId;
    this.#stream = stream;
    this.#outbox = outbox;
    this.done = new Promise((resolve) => stream.once('close', () => {
      this.#sendEnd();
      resolve();
    }));
    stream.on('data', (chunk: Uint8Array) => {
      // A compact copy: a view into a larger buffer would be cloned whole.
      outbox.clientData(connectionId, Uint8Array.prototype.slice.call(chunk));
    });
    stream.on('end', () => this.#sendEnd());
    // A reset is a close as far as HTTP is concerned; the owner hears it as the end.
    stream.on('error', () => {});
    stream.resume();
  }

  #sendEnd(): void {
    if (this.#endSent) return;
    this.#endSent = true;
    this.#outbox.clientEnded(this.connectionId);
  }

  write(bytes: Uint8Array): void {
    if (this.#stream.destroyed) return;
    const length = bytes.length;
    this.#stream.write(bytes, () => this.#outbox.clientFlushed(this.connectionId, length));
  }

  /** The owner's HTTP server keeps up again (true), or has more than it reads (false): TCP pushes back on the client. */
  setReading(reading: boolean): void {
    if (reading) this.#stream.resume();
    else this.#stream.pause();
  }

  end(ending: RelayEnding): void {
    if (ending === RelayEnding.Destroy) this.#stream.destroy();
    else this.#stream.end();
  }
}
