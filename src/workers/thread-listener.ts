/**
 * The thread's own listening socket, when the threads accept (see `ThreadListenSpec`): every pool
 * thread listens on the server's port with SO_REUSEPORT and the kernel spreads the new
 * connections over them, so a connection never passes through the owner thread to get here.
 * Each accepted socket gets a connection id of this thread's own (negative, so that it can never
 * meet one the owner numbered) and runs as a socket the owner moved here would.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { threadId } from 'node:worker_threads';
import type { ConnectionSettings, ThreadListenSpec } from '../shared/wire/thread-messages.ts';

/** What the listener hands its connections to, and reports its errors to. */
export interface AcceptedSocketSink {
  accepted(socket: Socket, connectionId: number, settings: ConnectionSettings): void;
  acceptFailed(error: NodeJS.ErrnoException): void;
}

/** Room for this thread's id below each of its connection numbers (thread ids stay far below it). */
const ThreadIdSpace = 2 ** 20;

export class ThreadListener {
  readonly #server: Server;
  readonly #spec: ThreadListenSpec;
  readonly #sink: AcceptedSocketSink;
  #settings: ConnectionSettings;
  #paused = false;
  #held: Socket[] = [];
  #accepted = 0;

  constructor(spec: ThreadListenSpec, settings: ConnectionSettings, sink: AcceptedSocketSink) {
    this.#spec = spec;
    this.#settings = settings;
    this.#sink = sink;
    // pauseOnConnect: a held socket is read from only once it is served, like a moved one.
    this.#server = createServer({ pauseOnConnect: true, noDelay: true }, this.#onConnection);
  }

  /** Resolves once listening; rejects with the bind's error. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = this.#server;
      server.once('error', reject);
      server.listen({ host: this.#spec.host, port: this.#spec.port, backlog: this.#spec.backlog, reusePort: true }, () => {
        server.off('error', reject);
        server.on('error', (error: NodeJS.ErrnoException) => this.#sink.acceptFailed(error));
        resolve();
      });
    });
  }

  set settings(settings: ConnectionSettings) {
    this.#settings = settings;
  }

  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (paused) return;
    const held = this.#held;
    this.#held = [];
    for (const socket of held) if (!socket.destroyed) this.#serve(socket);
  }

  /** Stops accepting; held sockets are dropped (as a closed listener's backlog is). */
  close(): void {
    this.#server.close();
    for (const socket of this.#held) socket.destroy();
    this.#held = [];
  }

  /** Sockets held while paused (for checks that nothing leaks). */
  get size(): number {
    return this.#held.length;
  }

  readonly #onConnection = (socket: Socket): void => {
    if (!this.#paused) {
      this.#serve(socket);
    } else if (this.#held.length >= this.#spec.maxHeldWhilePaused) {
      socket.destroy();
    } else {
      this.#held.push(socket);
    }
  };

  #serve(socket: Socket): void {
    this.#sink.accepted(socket, -(++this.#accepted * ThreadIdSpace + threadId), this.#settings);
  }
}
