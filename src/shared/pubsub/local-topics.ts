/**
 * The subscribers of one thread, by topic: the sockets whose engines run on this thread, each
 * under its connection id (ids are the server's, the same on every thread, so that a publisher
 * is left out wherever its message goes).
 */
import type { CompressedFrames } from '../engine/extension.ts';
import type { PubSubCounters } from './pubsub-stats.ts';

/** A socket that takes frames built once for many (EngineSocketBackend). */
export interface FrameTarget {
  /** Queues the frames (`compressed` instead, when its compression takes them); returns the bytes queued (0 when the socket no longer sends). */
  sendBuiltFrames(frames: Uint8Array, compressed?: CompressedFrames): number;
}

export class LocalTopics {
  readonly #topics = new Map<string, Map<number, FrameTarget>>();
  readonly #counters: PubSubCounters;

  constructor(counters: PubSubCounters) {
    this.#counters = counters;
  }

  /** Returns whether `connectionId` was not subscribed to `topic` before. */
  add(topic: string, connectionId: number, target: FrameTarget): boolean {
    let members = this.#topics.get(topic);
    if (members === undefined) {
      members = new Map();
      this.#topics.set(topic, members);
    }
    if (members.has(connectionId)) return false;
    members.set(connectionId, target);
    return true;
  }

  /** Returns whether `connectionId` was subscribed to `topic`. */
  remove(topic: string, connectionId: number): boolean {
    const members = this.#topics.get(topic);
    if (members === undefined || !members.delete(connectionId)) return false;
    if (members.size === 0) this.#topics.delete(topic);
    return true;
  }

  count(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * Queues `frames` (or `compressed`, where a subscriber's compression takes it) to every
   * subscriber of `topic` but `exceptConnectionId` (0: none left out).
   */
  deliver(topic: string, frames: Uint8Array, compressed: CompressedFrames | undefined, exceptConnectionId: number): void {
    const members = this.#topics.get(topic);
    if (members === undefined) return;
    let deliveries = 0;
    // Keys and values side by side: a `for of` over the map would make an entry array per member.
    const ids = members.keys();
    for (const target of members.values()) {
      if (ids.next().value === exceptConnectionId) continue;
      // The frames are queued where they are: a delivery copies nothing.
      if (target.sendBuiltFrames(frames, compressed) > 0) deliveries++;
    }
    this.#counters.deliveries += deliveries;
  }
}
