/**
 * The thread's own listening socket, when the threads accept (see `ThreadListenSpec`): every pool
 * thread listens on the server's port with SO_REUSEPORT and the kernel spreads the new
 * connections over them, so a connection never passes through the owner thread to get here.
 * Each accepted socket goes to the sink, which numbers it (connection-ids.ts) and runs it as a
 * socket the owner moved here would.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { AcceptGate } from '../shared/connection/accept-gate.ts';
import type { ConnectionSettings, ThreadListenSpec } from '../shared/wire/thread-messages.ts';

/** What the listener hands its connections to, and reports its errors to. */
export interface AcceptedSocketSink {
  accepted(socket: Socket, settings: ConnectionSettings): void;
  acceptFailed(error: NodeJS.ErrnoException): void;
}

export class ThreadListener {
  readonly #server: Server;
  readonly #spec: ThreadListenSpec;
  readonly #sink: AcceptedSocketSink;
  #settings: ConnectionSettings;
  readonly #gate: AcceptGate;

  constructor(spec: ThreadListenSpec, settings: ConnectionSettings, sink: AcceptedSocketSink) {
    this.#spec = spec;
    this.#settings = settings;
    this.#sink = sink;
    this.#gate = new AcceptGate(spec.maxHeldWhilePaused, (socket) => this.#serve(socket));
    // pauseOnConnect: a held socket is read from only once it is served, like a moved one.
    // No noDelay here: each connection sets it where it is served (see startServerHandshake).
    this.#server = createServer({ pauseOnConnect: true }, (socket) => this.#gate.offer(socket));
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
    this.#gate.setPaused(paused);
  }

  /** Stops accepting; held sockets are dropped (as a closed listener's backlog is). */
  close(): void {
    this.#server.close();
    this.#gate.dropHeld();
  }

  /** Sockets held while paused (for checks that nothing leaks). */
  get size(): number {
    return this.#gate.size;
  }

  #serve(socket: Socket): void {
    this.#sink.accepted(socket, this.#settings);
  }
}
