/**
 * src/workers: pool threads only. This file is the Piscina entry; beside it: the worker end of
 * the thread link (thread-channel.ts), the thread's own listening socket (thread-listener.ts),
 * one connection from handshake to end (worker-connection.ts), its signal writer
 * (signal-forwarder.ts) and command receiver (command-receiver.ts).
 *
 * The one Piscina task of a thread: it makes the thread's end of the link and resolves with the
 * thread's id at once. Piscina keeps the threads (and replaces one that dies); the link carries
 * the connections, so no connection holds a task, a port or a proxy of its own.
 */
import { threadId } from 'node:worker_threads';
import type { ThreadLinkTask } from '../shared/wire/thread-messages.ts';
import { ThreadChannel } from './thread-channel.ts';

let channel: ThreadChannel | undefined;

/**
 * A named export, not a default one: Piscina loads this file with `require()`, and Node wraps a
 * required module that has a default export in a facade. Making that facade once aborted a whole
 * test run (a failed native check in Node 26, in a pool thread that was starting while servers
 * closed); a module without a default export gets no facade.
 */
export function linkThread(task: ThreadLinkTask): number {
  // A second link for a thread that has one is a mistake of the balancing: the owner keeps the
  // first, and this port goes unused.
  if (channel !== undefined) task.port.close();
  else channel = new ThreadChannel(task.port);
  return threadId;
}
