/**
 * Qt's `pauseAccepting()` for whichever thread accepts (the owner's listener, or a pool thread's
 * own): while paused, new TCP connections are held unread, as the kernel's backlog would hold
 * them, up to `limit`, beyond which they are dropped (as a full backlog drops them); on resume
 * they are served in the order they came.
 */
import type { Socket } from 'node:net';

export class AcceptGate {
  readonly #limit: number;
  readonly #serve: (socket: Socket) => void;
  #paused = false;
  #held: Socket[] = [];

  constructor(limit: number, serve: (socket: Socket) => void) {
    this.#limit = limit;
    this.#serve = serve;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** A socket just accepted: served now, or held while paused. */
  offer(socket: Socket): void {
    if (!this.#paused) this.#serve(socket);
    else if (this.#held.length >= this.#limit) socket.destroy();
    else this.#held.push(socket);
  }

  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (paused) return;
    const held = this.#held;
    this.#held = [];
    for (const socket of held) if (!socket.destroyed) this.#serve(socket);
  }

  /** The listener closed: the sockets held are dropped, as a closed listener's backlog is. */
  dropHeld(): void {
    for (const socket of this.#held) socket.destroy();
    this.#held = [];
  }

  /** Sockets held (for checks that nothing leaks). */
  get size(): number {
    return this.#held.length;
  }
}
