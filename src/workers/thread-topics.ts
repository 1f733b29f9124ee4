/**
 * The topics of one pool thread: its sockets' subscriptions (handler-mode sockets subscribe
 * here themselves; the owner's mirrors ask through commands), what they publish, and the
 * messages the owner forwards. A socket's publish is framed once, delivered at once to the
 * thread's other subscribers, and sent to the owner with the thread's next turn, which forwards
 * it to the other threads that have subscribers (and to Redis). Subscription changes made here
 * travel with the same turn, so the owner knows which threads want which topic.
 */
import type { CompressedFrames } from '../shared/engine/extension.ts';
import { Defaults } from '../shared/engine/limits.ts';
import type { DeflateSettings } from '../shared/engine/permessage-deflate.ts';
import { LocalTopics, type FrameTarget } from '../shared/pubsub/local-topics.ts';
import { PublishFrameBuilder } from '../shared/pubsub/publish-frames.ts';
import { takeCounters, zeroCounters } from '../shared/pubsub/pubsub-stats.ts';
import type { ThreadPubSub } from '../shared/pubsub/topic-membership.ts';
import { readPublished, SubscriptionDeltaWriter, writePublished, type PublishedReader, type WorkerTopicBatch } from '../shared/wire/topic-batch.ts';

/** How long delivery counters may wait for a turn to ride on. */
const CountersReportDelayMs = 100;

export class ThreadTopics implements ThreadPubSub, PublishedReader {
  readonly #counters = zeroCounters();
  readonly #local = new LocalTopics(this.#counters);
  readonly #frames = new PublishFrameBuilder(this.#counters);
  readonly #deltas = new SubscriptionDeltaWriter();
  #published: unknown[] = [];
  readonly #onOutput: () => void;
  #reportTimer: NodeJS.Timeout | undefined;
  /** The server's permessage-deflate settings, as the latest connection settings from the owner say. */
  deflate: DeflateSettings | null = null;

  /** @param onOutput there is something for the owner: the thread's next turn should be sent */
  constructor(onOutput: () => void) {
    this.#onOutput = onOutput;
  }

  // ---- handler-mode sockets (LocalMembership) ------------------------------------------------

  subscribeLocal(topic: string, connectionId: number, target: FrameTarget): void {
    if (!this.#local.add(topic, connectionId, target)) return;
    this.#deltas.change(topic, 1);
    this.#onOutput();
  }

  unsubscribeLocal(topic: string, connectionId: number): void {
    if (!this.#local.remove(topic, connectionId)) return;
    this.#deltas.change(topic, -1);
    this.#onOutput();
  }

  publishFrom(connectionId: number, topic: string, message: string | Uint8Array): void {
    const frames = this.#frames.build(message, Defaults.outgoingFrameSize);
    const compressed = this.#frames.buildCompressed(message, Defaults.outgoingFrameSize, this.deflate);
    this.#local.deliver(topic, frames, compressed, connectionId);
    writePublished(this.#published, topic, connectionId, frames, compressed);
    this.#onOutput();
  }

  // ---- mirrored sockets: the owner counts these itself ------------------------------------------

  subscribeMirrored(topic: string, connectionId: number, target: FrameTarget): void {
    this.#local.add(topic, connectionId, target);
  }

  unsubscribeMirrored(topic: string, connectionId: number): void {
    this.#local.remove(topic, connectionId);
  }

  // ---- the link ---------------------------------------------------------------------------------

  /** The owner's messages for this thread's subscribers, from one owner turn. */
  deliverPublished(list: readonly unknown[]): void {
    readPublished(list, this);
    // The counters ride on the thread's next turn; without one soon, a report of their own
    // goes after a while, rather than one message back for every message forwarded.
    if (this.#reportTimer === undefined) this.#reportTimer = setTimeout(this.#report, CountersReportDelayMs).unref();
  }

  readonly #report = (): void => {
    this.#reportTimer = undefined;
    this.#onOutput();
  };

  published(topic: string, originConnectionId: number, frames: Uint8Array, compressed: CompressedFrames | undefined): void {
    this.#local.deliver(topic, frames, compressed, originConnectionId);
  }

  /** What the next turn carries to the owner, or undefined when nothing happened. */
  take(): WorkerTopicBatch | undefined {
    const counters = takeCounters(this.#counters);
    if (this.#published.length === 0 && this.#deltas.isEmpty && counters === undefined) return undefined;
    const published = this.#published;
    this.#published = [];
    return { published, subscriptions: this.#deltas.take(), counters };
  }
}
