/**
 * The server's topics, on the owner thread: the subscribers of the owner's own sockets
 * (`workers: 0`, handed-over sockets), a count of subscribers per topic for every pool thread,
 * and the way every published message takes: framed once where it was published, delivered at
 * once to that thread's subscribers, then posted once per owner turn to each other thread that
 * has subscribers (the frames are SharedArrayBuffer views: the same bytes everywhere), and sent
 * to Redis once when the server has it.
 *
 * Counts: the owner's mirrors subscribe through here (counted at once, then the thread holding
 * the socket is told with the socket's commands); handler-mode sockets subscribe on their own
 * thread, which reports the changes with its next turn. So a handler-mode subscription counts
 * for messages published on other threads once the owner has read that turn.
 */
import type { CompressedFrames } from '../shared/engine/extension.ts';
import { Defaults } from '../shared/engine/limits.ts';
import type { DeflateSettings } from '../shared/engine/permessage-deflate.ts';
import { LocalTopics, type FrameTarget } from '../shared/pubsub/local-topics.ts';
import { PublishFrameBuilder } from '../shared/pubsub/publish-frames.ts';
import { addCounters, zeroCounters, type PubSubCounters } from '../shared/pubsub/pubsub-stats.ts';
import type { ThreadPubSub } from '../shared/pubsub/topic-membership.ts';
import {
  readPublished,
  readSubscriptionDeltas,
  type PublishedReader,
  type SubscriptionDeltaReader,
  type WorkerTopicBatch,
} from '../shared/wire/topic-batch.ts';

/** The owner's thread in the counts (pool threads have their own ids, never 0). */
const OwnerThread = 0;

/** Where the hub sends what leaves the process: the thread links, and Redis. */
export interface TopicRoutes {
  /** Queues a message for the subscribers on thread `threadId` (nothing, if that thread is gone). */
  toThread(threadId: number, topic: string, originConnectionId: number, frames: Uint8Array, compressed: CompressedFrames | undefined): void;
  /** A topic got its first subscriber in this process, or lost its last. */
  topicInterest?(topic: string, interested: boolean): void;
  /** A message published here, for the other servers. */
  toRedis?(topic: string, frames: Uint8Array): void;
}

export class TopicHub implements ThreadPubSub, PublishedReader, SubscriptionDeltaReader {
  readonly counters: PubSubCounters = zeroCounters();
  readonly #local = new LocalTopics(this.counters);
  readonly #frames = new PublishFrameBuilder(this.counters);
  /** topic -> thread id -> subscribers there. */
  readonly #threads = new Map<string, Map<number, number>>();
  readonly #totals = new Map<string, number>();
  #routes: TopicRoutes | undefined;
  /** The thread whose turn is being read (for `published` and `subscriptionDelta`). */
  #reading = OwnerThread;
  #frameSize = Defaults.outgoingFrameSize;
  /** The server's permessage-deflate settings: a publish is compressed once under them. */
  #deflate: DeflateSettings | null = null;

  setRoutes(routes: TopicRoutes): void {
    this.#routes = routes;
  }

  /** permessage-deflate as the server offers it (null: not at all), for the compressed copy of each publish. */
  setDeflate(deflate: DeflateSettings | null): void {
    this.#deflate = deflate;
  }

  /** Payload bytes per frame of published messages (the server's outgoingFrameSize). */
  setFrameSize(size: number): void {
    this.#frameSize = size;
  }

  // ---- memberships --------------------------------------------------------------------------------

  subscribeLocal(topic: string, connectionId: number, target: FrameTarget): void {
    if (this.#local.add(topic, connectionId, target)) this.count(OwnerThread, topic, 1);
  }

  unsubscribeLocal(topic: string, connectionId: number): void {
    if (this.#local.remove(topic, connectionId)) this.count(OwnerThread, topic, -1);
  }

  publishFrom(connectionId: number, topic: string, message: string | Uint8Array): void {
    this.publish(topic, message, connectionId);
  }

  /** Subscribers of `topic` on `threadId` changed by `delta`. */
  count(threadId: number, topic: string, delta: number): void {
    let threads = this.#threads.get(topic);
    if (threads === undefined) {
      if (delta <= 0) return;
      threads = new Map();
      this.#threads.set(topic, threads);
    }
    const before = threads.get(threadId) ?? 0;
    // A thread that died took its counts with it; late unsubscribes of its sockets change nothing.
    const after = Math.max(0, before + delta);
    if (after === before) return;
    if (after === 0) threads.delete(threadId);
    else threads.set(threadId, after);
    const total = (this.#totals.get(topic) ?? 0) + after - before;
    if (total === 0) {
      this.#totals.delete(topic);
      this.#threads.delete(topic);
      this.#routes?.topicInterest?.(topic, false);
    } else {
      this.#totals.set(topic, total);
      if (total === after - before) this.#routes?.topicInterest?.(topic, true);
    }
  }

  // ---- publishing ---------------------------------------------------------------------------------

  /** From the owner thread (`WebSocketServer.publish`, an owner-side socket): framed here. */
  publish(topic: string, message: string | Uint8Array, originConnectionId: number): void {
    const frames = this.#frames.build(message, this.#frameSize);
    // The compressed copy is for subscribers here; Redis carries the plain frames only.
    const compressed = this.#threads.has(topic) ? this.#frames.buildCompressed(message, this.#frameSize, this.#deflate) : undefined;
    this.#fanOut(topic, frames, compressed, originConnectionId, -1);
    this.#routes?.toRedis?.(topic, frames);
  }

  /**
   * A message from Redis (another server's publish), framed by the server that published it;
   * it goes out uncompressed (the frames, not the message, cross Redis).
   */
  fromRedis(topic: string, frames: Uint8Array): void {
    this.#fanOut(topic, this.#frames.copy(frames), undefined, 0, -1);
  }

  /** A pool thread's turn: its subscription changes, then what its sockets published. */
  fromThread(threadId: number, batch: WorkerTopicBatch): void {
    this.#reading = threadId;
    if (batch.subscriptions.length > 0) readSubscriptionDeltas(batch.subscriptions, this);
    if (batch.published.length > 0) {
      this.counters.threadPosts++;
      readPublished(batch.published, this);
    }
    if (batch.counters !== undefined) addCounters(this.counters, batch.counters);
    this.#reading = OwnerThread;
  }

  subscriptionDelta(topic: string, delta: number): void {
    this.count(this.#reading, topic, delta);
  }

  /** Delivered on its own thread already: to the owner's subscribers, the other threads and Redis. */
  published(topic: string, originConnectionId: number, frames: Uint8Array, compressed: CompressedFrames | undefined): void {
    this.#fanOut(topic, frames, compressed, originConnectionId, this.#reading);
    this.#routes?.toRedis?.(topic, frames);
  }

  #fanOut(topic: string, frames: Uint8Array, compressed: CompressedFrames | undefined, originConnectionId: number, deliveredOn: number): void {
    const threads = this.#threads.get(topic);
    if (threads === undefined) return;
    for (const threadId of threads.keys()) {
      if (threadId === deliveredOn) continue;
      if (threadId === OwnerThread) this.#local.deliver(topic, frames, compressed, originConnectionId);
      else this.#routes?.toThread(threadId, topic, originConnectionId, frames, compressed);
    }
  }

  /** A pool thread is gone, and its subscribers with it. */
  threadGone(threadId: number): void {
    for (const [topic, threads] of [...this.#threads]) {
      const count = threads.get(threadId);
      if (count !== undefined) this.count(threadId, topic, -count);
    }
  }

  // ---- figures ------------------------------------------------------------------------------------

  numSubscribers(topic: string): number {
    return this.#totals.get(topic) ?? 0;
  }

  /** Every topic with subscribers, with their number. */
  topics(): Map<string, number> {
    return new Map(this.#totals);
  }
}
