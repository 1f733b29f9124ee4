/**
 * The Piscina pool that holds the connections (design.md, "Verified platform facts"):
 * - one long-lived task per connection, so Piscina's least-busy balancing spreads live
 *   connections evenly over the threads;
 * - `atomics: 'disabled'` and a very high `concurrentTasksPerWorker`, so that each thread's event
 *   loop keeps running all of its sockets instead of waiting on one task at a time;
 * - `minThreads = maxThreads` and `idleTimeout: Infinity`, so no thread is retired under its
 *   connections;
 * - never an AbortSignal on a task: aborting a running task terminates its whole thread.
 * A thread that dies (a handler throws, calls process.exit, runs out of memory) rejects only its
 * own tasks, which end those connections with 1006; Piscina starts a replacement thread.
 */
import { extname } from 'node:path';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ConnectionSettings, ConnectionTask, PoolWorkerData } from '../shared/wire/thread-messages.ts';
import { PoolConnection } from './pool-connection.ts';
import { PoolThreadLink, type ThreadTrafficStats } from './pool-thread-link.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';

/** Far above any connection count one thread can hold: Piscina must never queue a connection. */
const TasksPerThread = 1_000_000;

export interface ConnectionPoolOptions {
  threads: number;
  /** href of the user's handler module; undefined: every connection is mirrored to the owner. */
  handlerUrl: string | undefined;
  tls: SecureContextOptions | undefined;
  /** Memory limits of each thread: a thread over them dies alone (its connections end with 1006). */
  resourceLimits: ResourceLimits | undefined;
  /** A pool-level error no connection owns (a thread failing while it holds no task). */
  onError(error: Error): void;
}

// The task module sits next to this one's sibling folder, with this file's extension (.ts when
// run from source, .js from dist).
const taskFile = fileURLToPath(new URL(`../workers/connection-task${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

export class ConnectionPool {
  readonly #piscina: Piscina<ConnectionTask, void>;
  readonly stats: ThreadTrafficStats = { signalCalls: 0, signalEvents: 0, commandCalls: 0 };
  /** Live connections by id, for the thread links to deliver to. */
  readonly #connections = new Map<number, PoolConnection>();
  readonly #links = new Map<number, PoolThreadLink>();
  #destroyed = false;

  constructor(options: ConnectionPoolOptions) {
    const workerData: PoolWorkerData = { tls: options.tls, handlerUrl: options.handlerUrl };
    this.#piscina = new Piscina<ConnectionTask, void>({
      filename: taskFile,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      atomics: 'disabled',
      concurrentTasksPerWorker: TasksPerThread,
      workerData,
      resourceLimits: options.resourceLimits,
    });
    this.#piscina.on('error', (error: Error) => options.onError(error));
  }

  /** Hands a fresh socket (nothing read or written) to a thread. Resolves false if Node refused to move it. */
  adopt(socket: Socket, id: number, settings: ConnectionSettings, host: ServerConnectionHost): Promise<boolean> {
    const { port1, port2 } = new MessageChannel();
    const connection = new PoolConnection(id, host, port1, (threadId) => this.#openLink(threadId));
    this.#connections.set(id, connection);
    const task: ConnectionTask = { socket, port: port2, connectionId: id, settings };
    return this.#piscina.run(task, { transferList: [socket, port2] as never }).then(
      () => {
        this.#connections.delete(id);
        connection.settle();
        return true;
      },
      (error: NodeJS.ErrnoException) => {
        this.#connections.delete(id);
        if (error?.code === 'ERR_WORKER_HANDLE_NOT_TRANSFERABLE') {
          port1.close();
          port2.close();
          return false;
        }
        connection.settle({ error });
        return true;
      },
    );
  }

  /** A thread asked for its link (its first connection did): make it, return the thread's end. */
  #openLink(threadId: number): MessagePort {
    // A thread asks once; a second request means its previous link is gone with a previous thread.
    this.#links.get(threadId)?.close();
    const { port1, port2 } = new MessageChannel();
    const link = new PoolThreadLink(threadId, port1, this.#connections, this.stats, () => {
      if (this.#links.get(threadId) === link) this.#links.delete(threadId);
    });
    this.#links.set(threadId, link);
    return port2;
  }

  /** The thread ids of the live threads. */
  threadIds(): number[] {
    return this.#piscina.threads.map((thread) => thread.threadId);
  }

  /** Terminates every thread (their connections drop). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#piscina.destroy();
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }
}
