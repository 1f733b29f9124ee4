/**
 * Every connection the server knows, from accept to end, with the pending queue and the room
 * reserved in it. One class keeps the three consistent, because they are one fact seen three
 * ways: a connection is in its handshake, or has a reserved place (accepted, its 101 on the
 * way), or is open (waiting in the queue until the application takes it, or taken).
 */
import { WebSocket } from '../shared/connection/websocket.ts';
import type { ConnectionInfo, ConnectionLimits, SocketBackend } from '../shared/connection/socket-backend.ts';
import type { TopicMembership } from '../shared/pubsub/topic-membership.ts';

export const ConnectionPhase = { Handshake: 0, Reserved: 1, Open: 2 } as const;
export type ConnectionPhase = (typeof ConnectionPhase)[keyof typeof ConnectionPhase];

/** An upgraded connection nobody has taken yet: its socket is made when it is taken. */
export interface WaitingConnection {
  backend: SocketBackend;
  info: ConnectionInfo;
  limits: ConnectionLimits;
  /** The server's topics as this socket reaches them. */
  topics?: TopicMembership;
}

/** An open connection as closeAllConnections sees it. */
export interface OpenConnection {
  /** Its socket, or for one nobody sees its backend: either closes and aborts it. */
  closer: Pick<WebSocket, 'close' | 'abort'> | SocketBackend;
  ended: Promise<void>;
}

export interface ConnectionRecord {
  readonly id: number;
  readonly phase: ConnectionPhase;
  /** The thread holding the connection (0: owner), known from its upgrade request on. */
  threadId: number | undefined;
  /** The application's socket, once it exists (handed out, or given to a handler). */
  socket: WebSocket | undefined;
}

interface Entry extends ConnectionRecord {
  phase: ConnectionPhase;
  /**
   * Set while the connection waits in the pending queue, so nothing is read or delivered
   * before anyone could listen (Qt loses those; we keep them).
   */
  waiting: WaitingConnection | undefined;
  /** Handler mode without a `newConnection` listener: the backend, in place of a socket nobody sees. */
  unobserved: SocketBackend | undefined;
  /** Made only when someone waits for the end (closeAllConnections): most connections never need one. */
  ended: { promise: Promise<void>; resolve(): void } | undefined;
}

export class ConnectionRegistry {
  readonly #entries = new Map<number, Entry>();
  /** Entries with `waiting`, oldest first (open, or ended while waiting). */
  readonly #pending: Entry[] = [];
  /** Entries in `Reserved`: each holds a place in the pending queue's room. */
  #reserved = 0;
  #nextId = 0;
  #roomWaiters: Array<() => void> = [];

  /** A new connection, in its handshake. */
  create(): number {
    const id = ++this.#nextId;
    this.register(id);
    return id;
  }

  /** A new connection numbered elsewhere (a pool thread that accepted it: negative ids), in its handshake. */
  register(id: number): void {
    this.#entries.set(id, { id, phase: ConnectionPhase.Handshake, threadId: undefined, socket: undefined, waiting: undefined, unobserved: undefined, ended: undefined });
  }

  get(id: number): ConnectionRecord | undefined {
    return this.#entries.get(id);
  }

  /**
   * Reserves a place in the pending queue for an accepted upgrade, unless `room` places are
   * taken by connections waiting or on their way; false when full.
   */
  reserve(id: number, room: number): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.phase !== ConnectionPhase.Handshake) return false;
    if (this.#pending.length + this.#reserved >= room) return false;
    this.#setPhase(entry, ConnectionPhase.Reserved);
    return true;
  }

  /** Whether connections actually waiting in the queue fill `room` (no handshake on its way counted). */
  queueFull(room: number): boolean {
    return this.#pending.length >= room;
  }

  /**
   * Resolves the next time a place may have freed (a reservation opened or failed, a waiting
   * connection was taken or ended). A full room whose places are held by handshakes still on
   * their way between the threads frees in moments when the application takes every
   * connection; a decision waits for that rather than answering 503.
   */
  roomFreed(): Promise<void> {
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  #notifyRoom(): void {
    if (this.#roomWaiters.length === 0) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The handshake failed after the decision: its place is free again. */
  handshakeFailed(id: number): void {
    const entry = this.#entries.get(id);
    if (entry !== undefined && entry.phase === ConnectionPhase.Reserved) this.#setPhase(entry, ConnectionPhase.Handshake);
  }

  /** The 101 is out. With `waiting`, the connection joins the pending queue; its socket is made when it is taken. */
  open(id: number, waiting?: WaitingConnection): ConnectionRecord | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#setPhase(entry, ConnectionPhase.Open);
    if (waiting !== undefined) {
      entry.waiting = waiting;
      this.#pending.push(entry);
    }
    return entry;
  }

  /**
   * The 101 is out for a connection nobody on the owner will see (handler mode without a
   * `newConnection` listener): no socket is made for it; `backend`, attached to the server's
   * own sink, is what closes it.
   */
  openUnobserved(id: number, backend: SocketBackend): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#setPhase(entry, ConnectionPhase.Open);
    entry.unobserved = backend;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** The oldest waiting connection's socket, made now; undefined when none waits. */
  takePending(): WebSocket | undefined {
    const entry = this.#pending.shift();
    if (entry === undefined) return undefined;
    this.#notifyRoom();
    return this.#adopt(entry);
  }

  /** Every waiting connection's socket, oldest first, made now; the queue is empty afterwards. */
  takeAllPending(): WebSocket[] {
    const taken = this.#pending.splice(0);
    return taken.map((entry) => this.#adopt(entry));
  }

  /** Every open connection, as what closes it (waiting ones are taken out of the queue first). */
  openConnections(): OpenConnection[] {
    const open: OpenConnection[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.phase !== ConnectionPhase.Open) continue;
      if (entry.waiting !== undefined) this.#pending.splice(this.#pending.indexOf(entry), 1);
      const socket = entry.waiting !== undefined ? this.#adopt(entry) : entry.socket;
      const closer = socket ?? entry.unobserved;
      if (closer !== undefined) open.push({ closer, ended: this.#whenEnded(entry) });
    }
    return open;
  }

  /** The connection is over; nothing more is recorded about it. */
  end(id: number): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    if (entry.phase === ConnectionPhase.Reserved) this.#reserved--;
    // One still waiting stays in the queue: `newConnection` announced it, so the application
    // gets its socket, which reports how it ended.
    this.#entries.delete(id);
    entry.ended?.resolve();
    this.#notifyRoom();
  }

  #whenEnded(entry: Entry): Promise<void> {
    if (entry.ended === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => { resolve = done; });
      entry.ended = { promise, resolve };
    }
    return entry.ended.promise;
  }

  /** Every connection the registry knows, whatever its phase (for checks that nothing leaks). */
  get size(): number {
    return this.#entries.size;
  }

  get openCount(): number {
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.phase === ConnectionPhase.Open) count++;
    return count;
  }

  /** Open connections per thread, with every thread of `threadIds` listed (0 where none). */
  openCountsByThread(threadIds: Iterable<number>): Map<number, number> {
    const counts = new Map<number, number>();
    for (const id of threadIds) counts.set(id, 0);
    for (const entry of this.#entries.values()) {
      if (entry.threadId === undefined || entry.phase !== ConnectionPhase.Open) continue;
      counts.set(entry.threadId, (counts.get(entry.threadId) ?? 0) + 1);
    }
    return counts;
  }

  #setPhase(entry: Entry, phase: ConnectionPhase): void {
    if (entry.phase === ConnectionPhase.Reserved) {
      this.#reserved--;
      this.#notifyRoom();
    }
    if (phase === ConnectionPhase.Reserved) this.#reserved++;
    entry.phase = phase;
  }

  #adopt(entry: Entry): WebSocket {
    const { backend, info, limits, topics } = entry.waiting!;
    entry.waiting = undefined;
    entry.socket = WebSocket.adopt(backend, info, { ...limits, topics });
    return entry.socket;
  }
}
