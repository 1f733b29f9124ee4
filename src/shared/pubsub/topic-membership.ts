/**
 * How a server-side `WebSocket` reaches its server's topics. The server gives each socket one
 * when it adopts it: a socket whose engine runs on this thread joins the thread's topics
 * directly (`LocalMembership`); the owner's mirror of a pooled socket asks the thread holding it
 * (src/main/topic-hub.ts). A client socket has none.
 */
import { InvalidArgumentError } from '../engine/errors.ts';
import type { FrameTarget } from './local-topics.ts';

/** A topic is any non-empty string (it names a Redis channel too, after the prefix). */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic === '') throw new InvalidArgumentError(`A topic must be a non-empty string; got ${JSON.stringify(topic)}`);
}

/** What `publish` sends: a string as a text message, bytes as a binary one. */
export function publishedPayload(message: string | Uint8Array | ArrayBuffer): string | Uint8Array {
  const payload = message instanceof ArrayBuffer ? new Uint8Array(message) : message;
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) throw new InvalidArgumentError('publish() takes a string, a Uint8Array or an ArrayBuffer');
  return payload;
}

export interface TopicMembership {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** To every subscriber of `topic` on every thread (and over Redis), this socket left out. */
  publish(topic: string, message: string | Uint8Array): void;
}

/** The topics of the thread a socket's engine runs on (the owner's TopicHub, a worker's ThreadTopics). */
export interface ThreadPubSub {
  subscribeLocal(topic: string, connectionId: number, target: FrameTarget): void;
  unsubscribeLocal(topic: string, connectionId: number): void;
  publishFrom(connectionId: number, topic: string, message: string | Uint8Array): void;
}

/** The membership of a socket whose engine runs on this thread. */
export class LocalMembership implements TopicMembership {
  readonly #thread: ThreadPubSub;
  readonly #connectionId: number;
  readonly #target: FrameTarget;

  constructor(thread: ThreadPubSub, connectionId: number, target: FrameTarget) {
    this.#thread = thread;
    this.#connectionId = connectionId;
    this.#target = target;
  }

  subscribe(topic: string): void {
    this.#thread.subscribeLocal(topic, this.#connectionId, this.#target);
  }

  unsubscribe(topic: string): void {
    this.#thread.unsubscribeLocal(topic, this.#connectionId);
  }

  publish(topic: string, message: string | Uint8Array): void {
    this.#thread.publishFrom(this.#connectionId, topic, message);
  }
}
