/**
 * What publish/subscribe did, counted where it happens (every thread keeps its own counters and
 * sends the owner what changed with its next turn), so that frame-once can be seen: one frame
 * built per message, many deliveries of it, one post per thread and turn.
 */
export interface PubSubCounters {
  /** Messages framed for publishing (once each, on the thread where they were published or arrived from Redis). */
  framesBuilt: number;
  /** Wire bytes of those frames. */
  frameBytes: number;
  /** Frames queued to subscriber sockets. */
  deliveries: number;
  /**
   * Bytes copied on the way: each payload into its frame once, and each small frame into a
   * subscriber's write buffer (large frames are queued as they are). Nothing is copied between
   * threads: the frames live in SharedArrayBuffers.
   */
  bytesCopied: number;
  /** Thread link messages that carried publishes (either way): at most one per thread and turn. */
  threadPosts: number;
}

export const CounterNames = ['framesBuilt', 'frameBytes', 'deliveries', 'bytesCopied', 'threadPosts'] as const satisfies ReadonlyArray<keyof PubSubCounters>;

export function zeroCounters(): PubSubCounters {
  return { framesBuilt: 0, frameBytes: 0, deliveries: 0, bytesCopied: 0, threadPosts: 0 };
}

/** The counters as a flat list (for the thread link), and the counters reset. */
export function takeCounters(counters: PubSubCounters): number[] | undefined {
  if (counters.framesBuilt === 0 && counters.deliveries === 0 && counters.threadPosts === 0) return undefined;
  const values = CounterNames.map((name) => counters[name]);
  for (const name of CounterNames) counters[name] = 0;
  return values;
}

export function addCounters(total: PubSubCounters, values: readonly number[]): void {
  CounterNames.forEach((name, i) => { total[name] += values[i] ?? 0; });
}
