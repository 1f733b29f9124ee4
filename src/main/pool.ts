/**
 * The Piscina pool whose threads hold the connections, and the owner's ends of their links.
 *
 * Piscina keeps the threads: `idleTimeout: Infinity`, so none is retired under its connections,
 * and a thread that dies (a handler throws, calls process.exit, runs out of memory) is replaced.
 * Only `initialThreads` start with the pool; the others start as connections need them (see
 * #startThreadIfFull), so a server sized for many cores costs only those threads' memory until
 * it has connections to spread. Each thread
 * runs one short task (thread-link-task.ts) that sets up its end of a link; from then on every
 * connection of that thread travels over the link: either the thread accepts it itself (every
 * thread listens on the server's port, SO_REUSEPORT, and the kernel spreads the connections), or
 * the owner moves fresh sockets in batches (one `postMessage` per owner turn and thread, many
 * sockets in its transfer list); the worker asks for the upgrade decisions in batches, and
 * signals and commands go as before. So a connection costs the owner no MessageChannel, no proxy
 * and no Piscina task, and when the threads accept, no accept and no transfer either.
 *
 * A connection a thread serves with the handler module and nobody here observes is only counted
 * once upgraded (CountedNews): the owner keeps no record of it (of a socket it moved, it drops
 * the one it had), and closeAllConnections() reaches such connections through their threads.
 *
 * When the owner accepts it balances connections itself: each new one goes to the thread with
 * the fewest live connections. A custom load balancer sends each link task to a thread that has
 * no link yet.
 * `atomics: 'disabled'` keeps each thread's event loop running its sockets between tasks.
 * Never an AbortSignal on a task: aborting a running task terminates its whole thread.
 */
import { extname } from 'node:path';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ConnectionSettings, PoolWorkerData, ThreadLinkTask, ThreadListenSpec } from '../shared/wire/thread-messages.ts';
import { PoolConnection, type PoolBookkeeping } from './pool-connection.ts';
import { PoolThreadLink, type LinkEvents, type LinkTopics, type ListenFailure, type ThreadTrafficStats } from './pool-thread-link.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';

export interface ConnectionPoolOptions {
  /** The most threads the pool runs. */
  threads: number;
  /** Threads started with the pool (at least 1, at most `threads`); `ready` waits for their links. */
  initialThreads: number;
  /** href of the user's handler module; undefined: every connection is mirrored to the owner. */
  handlerUrl: string | undefined;
  tls: SecureContextOptions | undefined;
  /** Memory limits of each thread: a thread over them dies alone (its connections end with 1006). */
  resourceLimits: ResourceLimits | undefined;
  /** A pool-level error no connection owns (a thread failing). */
  onError(error: Error): void;
  /** A thread's listener failed to accept a connection (see `listenInThreads`): the errno code. */
  onAcceptError(code: string): void;
  /** A connection only counted in its thread (CountedNews) could not be served: its handler module failed to load. */
  onCountedFailed(error: WebSocketError): void;
  /** The server's topics: what each thread publishes and subscribes, and the end of a thread. */
  topics: LinkTopics & { threadGone(threadId: number): void };
}

// The task module sits in this one's sibling folder, with this file's extension (.ts when run
// from source, .js from dist).
const taskFile = fileURLToPath(new URL(`../workers/thread-link-task${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** Piscina's load balancer type (its package does not export it by name). */
type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

/** How long a failed link task waits before it is tried again (a thread starting or dying). */
const RelinkDelayMs = 50;

/** A socket waiting for the first link: the threads are still starting. */
interface WaitingSocket {
  socket: Socket;
  id: number;
  settings: ConnectionSettings;
  host: ServerConnectionHost;
  moved(moved: boolean): void;
}

/** See `ConnectionPool.census`. */
export interface PoolCensus {
  /** Connections the owner tracks in the pool. */
  connections: number;
  /** Sockets waiting for a thread's link. */
  waiting: number;
  /** Live thread links (one per thread once started). */
  links: number;
  /** Link tasks not settled yet: threads starting. */
  starting: number;
  /** Connections, command sources and requests the owner's ends of the links hold. */
  linkHeld: number;
  /** Connections and open questions the threads' ends hold. */
  workerHeld: number;
}

/** The threads' own listeners: where they listen, with which settings for new connections. */
interface ThreadListening {
  spec: ThreadListenSpec;
  settings: ConnectionSettings;
}

export class ConnectionPool implements PoolBookkeeping, LinkEvents {
  readonly #piscina: Piscina<ThreadLinkTask, number>;
  readonly #threads: number;
  readonly #onError: (error: Error) => void;
  readonly #topics: ConnectionPoolOptions['topics'];
  /** A handler module serves the connections in their threads: the owner sees their lifecycle only. */
  readonly #lifecycleOnly: boolean;
  readonly stats: ThreadTrafficStats = { signalCalls: 0, signalEvents: 0, commandCalls: 0 };
  /** Live connections by id, for the thread links to deliver to. */
  readonly #connections = new Map<number, PoolConnection>();
  readonly #links = new Map<number, PoolThreadLink>();
  /** Threads a link task was sent to and that have not answered yet. */
  readonly #linking = new Set<number>();
  /** Link tasks sent and not settled: threads starting (or being given a link). */
  #linkTasks = 0;
  #waiting: WaitingSocket[] = [];
  #destroyed = false;
  readonly ready: Promise<void>;
  #resolveReady!: () => void;
  #linkTasksSettled = 0;
  readonly #initialThreads: number;
  /** The last uncaught error of a thread, reported with that thread's exit. */
  #threadError: Error | undefined;
  /** Set while the threads accept connections themselves. */
  #listening: ThreadListening | undefined;
  /** What the connections the threads accept report to (kept after they stop listening: some may still arrive). */
  #acceptedHost: ServerConnectionHost | undefined;
  #acceptPaused = false;
  readonly #onAcceptError: (code: string) => void;
  readonly #onCountedFailed: (error: WebSocketError) => void;

  constructor(options: ConnectionPoolOptions) {
    this.#lifecycleOnly = options.handlerUrl !== undefined;
    const workerData: PoolWorkerData = { tls: options.tls, handlerUrl: options.handlerUrl };
    this.#threads = options.threads;
    this.#initialThreads = options.initialThreads;
    this.#onError = options.onError;
    this.#onAcceptError = options.onAcceptError;
    this.#onCountedFailed = options.onCountedFailed;
    this.#topics = options.topics;
    this.ready = new Promise((resolve) => { this.#resolveReady = resolve; });
    // A link task goes to a thread without a link, or waits for one: Piscina starts a thread
    // for a task no thread takes, up to maxThreads (minThreads 0: none of its own accord).
    const loadBalancer: LoadBalancer = (_task, workers) => {
      const free = workers.find((worker) => !worker.terminating && !worker.destroyed && !this.#links.has(worker.id) && !this.#linking.has(worker.id));
      if (free === undefined) return null;
      this.#linking.add(free.id);
      return free;
    };
    this.#piscina = new Piscina<ThreadLinkTask, number>({
      filename: taskFile,
      name: 'linkThread',
      minThreads: 0,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      atomics: 'disabled',
      workerData,
      resourceLimits: options.resourceLimits,
      loadBalancer,
    });
    // A thread's uncaught error comes just before its exit: reported then, with the thread's id.
    this.#piscina.on('error', (error: Error) => { this.#threadError = error; });
    for (let i = 0; i < options.initialThreads; i++) this.#link(true);
  }

  /** Threads running (with a link) or starting. */
  get #threadsUp(): number {
    return this.#links.size + this.#linkTasks;
  }

  /** Starts threads until `count` run or are starting (never more than `threads`). */
  startThreads(count: number): void {
    const wanted = Math.min(count, this.#threads);
    while (!this.#destroyed && this.#threadsUp < wanted) this.#link(false);
  }

  /**
   * Called as a connection arrives, before it is counted on its thread: another thread starts
   * when every running one already holds a connection. Threads still starting are not counted
   * as room, so a burst starts every thread it needs at once rather than one after another.
   */
  #startThreadIfFull(): void {
    if (this.#threadsUp >= this.#threads || this.#destroyed) return;
    for (const link of this.#links.values()) if (link.liveConnections === 0) return;
    this.#link(false);
  }

  /** Sends one link task; its thread answers with its id, and the link is up. */
  #link(first: boolean): void {
    if (this.#destroyed) return;
    const { port1, port2 } = new MessageChannel();
    this.#linkTasks++;
    this.#piscina.run({ port: port2 }, { transferList: [port2] as never }).then(
      (threadId) => {
        this.#linkTasks--;
        this.#linking.delete(threadId);
        if (this.#destroyed || this.#links.has(threadId)) {
          port1.close();
        } else {
          const link = new PoolThreadLink(threadId, this.#freeIdSlot(), port1, this.#connections, this.stats, this.#topics, this, () => this.#linkClosed(link));
          this.#links.set(threadId, link);
          this.#piscina.threads.find((thread) => thread.threadId === threadId)?.once('exit', (code) => this.#threadExited(threadId, code));
          // A thread that replaces a dead one listens as the others do.
          if (this.#listening !== undefined) void this.#listenOn(link, this.#listening);
          this.#adoptWaiting();
        }
        if (first) this.#linkTaskSettled();
      },
      () => {
        // The thread died before it answered: the pool replaces it, and the task goes again.
        this.#linkTasks--;
        port1.close();
        this.#linking.clear();
        if (first) this.#linkTaskSettled();
        if (!this.#destroyed) setTimeout(() => this.#link(false), RelinkDelayMs).unref();
      },
    );
  }

  /** The lowest id slot no live link has (a dead thread's connections are gone with its link). */
  #freeIdSlot(): number {
    const taken = new Set<number>();
    for (const link of this.#links.values()) taken.add(link.idSlot);
    let slot = 1;
    while (taken.has(slot)) slot++;
    return slot;
  }

  #linkTaskSettled(): void {
    if (++this.#linkTasksSettled === this.#initialThreads) this.#resolveReady();
  }

  /** A thread died (Piscina starts another): said once, with which thread and why. */
  #threadExited(threadId: number, code: number): void {
    const error = this.#threadError;
    this.#threadError = undefined;
    if (this.#destroyed) return;
    this.#onError(new Error(`thread ${threadId} died: ${error?.message ?? `it exited with code ${code}`}`));
  }

  /** A thread's link closed: the thread is gone (it died, or the pool is going). */
  #linkClosed(link: PoolThreadLink): void {
    if (this.#links.get(link.threadId) !== link) return;
    this.#links.delete(link.threadId);
    this.#topics.threadGone(link.threadId);
    const message = `The worker thread ${link.threadId} running this connection exited`;
    for (const connection of [...this.#connections.values()]) {
      if (connection.link === link) connection.threadLost(message);
    }
    if (!this.#destroyed) this.#link(false);
  }

  /**
   * Hands a fresh socket (nothing read or written) to the thread with the fewest live
   * connections. Resolves false if Node refused to move it (the caller then serves it itself).
   */
  adopt(socket: Socket, id: number, settings: ConnectionSettings, host: ServerConnectionHost): Promise<boolean> {
    return new Promise((moved) => {
      const link = this.#leastBusyLink();
      if (link === undefined) this.#waiting.push({ socket, id, settings, host, moved });
      else this.#adoptOn(link, { socket, id, settings, host, moved });
    });
  }

  #adoptOn(link: PoolThreadLink, waiting: WaitingSocket): void {
    this.#startThreadIfFull();
    const connection = new PoolConnection(waiting.id, waiting.host, this, link, this.#lifecycleOnly);
    this.#connections.set(waiting.id, connection);
    link.adopt(waiting.socket, waiting.id, waiting.settings, (moved) => {
      if (!moved) {
        this.#connections.delete(waiting.id);
        link.released();
      }
      waiting.moved(moved);
    });
  }

  #adoptWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const entry of waiting) {
      if (entry.socket.destroyed) {
        entry.moved(false);
        continue;
      }
      this.#adoptOn(this.#leastBusyLink()!, entry);
    }
  }

  #leastBusyLink(): PoolThreadLink | undefined {
    let best: PoolThreadLink | undefined;
    for (const link of this.#links.values()) {
      if (best === undefined || link.liveConnections < best.liveConnections) best = link;
    }
    return best;
  }

  /** A connection of the pool is over: forgotten here and by its link. */
  ended(id: number): void {
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    this.#connections.delete(id);
    connection.link.released();
  }

  // ---- the threads' own listeners ---------------------------------------------------------------

  /**
   * Has every thread listen on `spec` (SO_REUSEPORT; see ThreadListener), its connections
   * reporting to `host`; a thread that replaces a dead one listens too. Resolves with the first
   * thread's bind failure, if any (then none listens).
   */
  async listenInThreads(spec: ThreadListenSpec, settings: ConnectionSettings, host: ServerConnectionHost): Promise<ListenFailure> {
    await this.ready;
    if (this.#destroyed) return { code: 'ERR_WORKER_EXITED', message: 'The pool has been destroyed' };
    const listening: ThreadListening = { spec, settings };
    this.#listening = listening;
    this.#acceptedHost = host;
    const failures = await Promise.all([...this.#links.values()].map((link) => this.#listenOn(link, listening)));
    const failure = failures.find((each) => each !== undefined);
    if (failure !== undefined && this.#listening === listening) await this.stopListening();
    return failure;
  }

  #listenOn(link: PoolThreadLink, listening: ThreadListening): Promise<ListenFailure> {
    const failure = link.listen(listening.spec, listening.settings);
    if (this.#acceptPaused) link.setAcceptPaused(true);
    return failure;
  }

  /** The threads stop accepting (their connections stay up); resolves once no thread listens. */
  async stopListening(): Promise<void> {
    this.#listening = undefined;
    await Promise.all([...this.#links.values()].map((link) => link.unlisten()));
  }

  /** New settings for the connections the threads accept from now on. */
  updateListenSettings(settings: ConnectionSettings): void {
    if (this.#listening === undefined) return;
    this.#listening.settings = settings;
    for (const link of this.#links.values()) link.listenSettings(settings);
  }

  /** `pauseAccepting()` / `resumeAccepting()` on the threads' listeners. */
  setAcceptPaused(paused: boolean): void {
    this.#acceptPaused = paused;
    for (const link of this.#links.values()) link.setAcceptPaused(paused);
  }

  acceptedInThread(link: PoolThreadLink, connectionId: number): PoolConnection | undefined {
    const host = this.#acceptedHost;
    if (host === undefined || this.#destroyed) return undefined;
    this.#startThreadIfFull();
    const connection = new PoolConnection(connectionId, host, this, link, this.#lifecycleOnly);
    this.#connections.set(connectionId, connection);
    link.holding();
    host.acceptedInThread(connectionId);
    return connection;
  }

  acceptFailed(code: string): void {
    this.#onAcceptError(code);
  }

  // ---- the connections the owner only counts (see CountedNews) ----------------------------------

  countedOpening(): void {
    this.#startThreadIfFull();
  }

  countedFailed(error: WebSocketError): void {
    this.#onCountedFailed(error);
  }

  /** Counted connections, on every running thread. */
  get countedConnections(): number {
    let count = 0;
    for (const link of this.#links.values()) count += link.countedConnections;
    return count;
  }

  /** Adds each thread's counted connections to `counts` (thread id → count). */
  addCountedByThread(counts: Map<number, number>): void {
    for (const link of this.#links.values()) {
      if (link.countedConnections > 0) counts.set(link.threadId, (counts.get(link.threadId) ?? 0) + link.countedConnections);
    }
  }

  /** Every thread closes its counted connections; resolves once all of them have ended. */
  async closeCounted(code: number, reason: string): Promise<void> {
    await Promise.all([...this.#links.values()].map((link) => link.closeCounted(code, reason)));
  }

  /** Every thread drops its counted connections (a closeCounted past its timeout). */
  abortCounted(): void {
    for (const link of this.#links.values()) link.abortCounted();
  }

  /** The link of a live thread. */
  linkOf(threadId: number): PoolThreadLink | undefined {
    return this.#links.get(threadId);
  }

  /** The thread ids of the running threads (those started so far). */
  threadIds(): number[] {
    return this.#piscina.threads.map((thread) => thread.threadId);
  }

  /** What the pool holds on both ends of every link, for checks that nothing leaks. */
  async census(): Promise<PoolCensus> {
    let linkHeld = 0;
    for (const link of this.#links.values()) linkHeld += link.size;
    const workerHeld = (await Promise.all([...this.#links.values()].map((link) => link.census()))).reduce((a, b) => a + b, 0);
    return { connections: this.#connections.size, waiting: this.#waiting.length, links: this.#links.size, starting: this.#linkTasks, linkHeld, workerHeld };
  }

  /** Terminates every thread (their connections drop). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const entry of this.#waiting) entry.socket.destroy();
    this.#waiting = [];
    await this.#piscina.destroy();
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    this.#resolveReady();
  }
}
