/**
 * Publish/subscribe on the thread link, both ways; the writers and the readers side by side.
 *
 * Published messages, one thread's worth of one turn, flat: `[topic, originConnectionId,
 * frames, compressed]*`, where `frames` is the message already framed, a view into a
 * SharedArrayBuffer (publish-frames.ts), so the message is the same bytes on every thread and is
 * never copied on the way; `compressed` the same message compressed once for the subscribers that
 * agreed permessage-deflate, with its window (`CompressedFrames`, undefined when there is none);
 * `originConnectionId` (0: none) is the publisher, which its own message skips.
 * Owner -> worker: the messages for the thread's subscribers; worker -> owner: those the thread's
 * sockets published (already delivered on that thread).
 *
 * Worker -> owner only, with them: the turn's changes to the thread's subscriptions made there
 * (by handler-mode sockets), `[topic, delta]*`, so that the owner knows which threads want a
 * topic; and the thread's counters since its last report (pubsub-stats.ts).
 */

import type { CompressedFrames } from '../engine/extension.ts';

/** What a worker's turn carries about topics (absent when nothing happened). */
export interface WorkerTopicBatch {
  published: unknown[];
  subscriptions: unknown[];
  counters: number[] | undefined;
}

export function writePublished(list: unknown[], topic: string, originConnectionId: number, frames: Uint8Array, compressed: CompressedFrames | undefined): void {
  list.push(topic, originConnectionId, frames, compressed);
}

export interface PublishedReader {
  published(topic: string, originConnectionId: number, frames: Uint8Array, compressed: CompressedFrames | undefined): void;
}

export function readPublished(list: readonly unknown[], reader: PublishedReader): void {
  if (list.length % 4 !== 0) throw new Error(`Malformed publish batch: ${list.length} values`);
  for (let i = 0; i < list.length; i += 4) {
    reader.published(list[i] as string, list[i + 1] as number, list[i + 2] as Uint8Array, list[i + 3] as CompressedFrames | undefined);
  }
}

/** Subscription changes of a turn, gathered per topic (a subscribe and an unsubscribe cancel out). */
export class SubscriptionDeltaWriter {
  readonly #deltas = new Map<string, number>();

  get isEmpty(): boolean {
    return this.#deltas.size === 0;
  }

  change(topic: string, delta: number): void {
    const total = (this.#deltas.get(topic) ?? 0) + delta;
    if (total === 0) this.#deltas.delete(topic);
    else this.#deltas.set(topic, total);
  }

  take(): unknown[] {
    const list: unknown[] = [];
    for (const [topic, delta] of this.#deltas) list.push(topic, delta);
    this.#deltas.clear();
    return list;
  }
}

export interface SubscriptionDeltaReader {
  subscriptionDelta(topic: string, delta: number): void;
}

export function readSubscriptionDeltas(list: readonly unknown[], reader: SubscriptionDeltaReader): void {
  if (list.length % 2 !== 0) throw new Error(`Malformed subscription batch: ${list.length} values`);
  for (let i = 0; i < list.length; i += 2) reader.subscriptionDelta(list[i] as string, list[i + 1] as number);
}
