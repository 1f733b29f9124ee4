/**
 * Which transport a server gets. Handing an accepted socket to a worker thread needs Node 26.6
 * (socket transfer over a MessagePort). On an older Node a server asked for workers must not
 * half-work: it runs every connection on the owner thread (`workers: 0`) and says so once per
 * process, naming the version it needs. A later transport will relay bytes to workers there.
 */
import { availableParallelism } from 'node:os';
import { ThreadSlots } from '../shared/wire/connection-ids.ts';

export const SocketTransferMinVersion = '26.6.0';

/** Whether this Node can move a `net.Socket` to a worker thread. */
export function canTransferSockets(nodeVersion: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = nodeVersion.split('.').map((part) => Number.parseInt(part, 10));
  return major > 26 || (major === 26 && minor >= 6);
}

/**
 * The default worker count: one thread per core the process may use (`os.availableParallelism()`,
 * at most ThreadSlots - 1: see connection-ids.ts), since each connection's protocol work then has
 * a core of its own; the owner thread only accepts and routes, which costs little next to framing.
 */
export function defaultWorkerCount(): number {
  return Math.min(availableParallelism(), ThreadSlots - 1);
}

let warned = false;

export interface WorkerCountChoice {
  /** Threads to start: 0 means every connection runs on the owner thread. */
  workers: number;
  /** Set when workers were asked for and this Node cannot provide them. */
  fallbackReason: string | undefined;
}

/**
 * The thread count to use for `requested` workers (undefined: the default) on `nodeVersion`.
 * `warn` is called at most once per process for a fallback.
 */
export function chooseWorkerCount(
  requested: number | undefined,
  nodeVersion: string = process.versions.node,
  warn: (message: string) => void = (message) => process.emitWarning(message, { code: 'WSTHREADS_NO_SOCKET_TRANSFER' }),
): WorkerCountChoice {
  const workers = requested ?? defaultWorkerCount();
  if (workers === 0 || canTransferSockets(nodeVersion)) return { workers, fallbackReason: undefined };
  const reason = `wsthreads: worker threads need Node >= ${SocketTransferMinVersion} to receive sockets `
    + `(this is Node ${nodeVersion}); every connection runs on the main thread (workers: 0) instead.`;
  if (!warned) {
    warned = true;
    warn(reason);
  }
  return { workers: 0, fallbackReason: reason };
}
