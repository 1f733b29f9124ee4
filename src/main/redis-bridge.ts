/**
 * Topics across processes and machines: Redis pub/sub, through `ioredis`. One connection
 * subscribes (only to the topics that have subscribers in this process), one publishes.
 *
 * A message goes to Redis once, as the frames it was built into here, in an envelope that names
 * this server (`EnvelopeHeader`): every server subscribed gets it, this one too, and the one
 * that published it drops it, having delivered it locally at once. Another server's frames are
 * checked (whole, unmasked data frames) before they reach a socket.
 *
 * Redis down: local delivery goes on untouched; publishes meanwhile do not reach other servers
 * (counted as dropped, never queued without bound); ioredis reconnects with backoff (capped at
 * `maxReconnectDelayMs`), and on each reconnect every topic with local subscribers is subscribed
 * again. The state goes to `onStateChanged`.
 *
 * ioredis is loaded by the first bridge, not by the package: a server without Redis (and every
 * pool thread, and the client) is spared its load time and its ~25 MiB. Until it is loaded the
 * bridge is as while connecting: publishes are dropped, topics wait for the subscriber's 'ready'.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { isServerMessage } from '../shared/engine/message-frames.ts';

/** Where the link to Redis stands ('local': the server has no Redis). */
export const PubSubState = {
  Local: 'local',
  Connecting: 'connecting',
  Connected: 'connected',
  Reconnecting: 'reconnecting',
  Closed: 'closed',
} as const;
export type PubSubState = (typeof PubSubState)[keyof typeof PubSubState];

export interface RedisPubSubOptions {
  /** `redis://host:port` (ioredis URL syntax: user, password, db). */
  redis: string;
  /** Prefix of every Redis channel; the topic follows it. Default 'wsthreads:'. */
  channelPrefix?: string;
  /** The longest wait between two reconnection attempts; default 2000 ms (from 50 ms, doubling). */
  maxReconnectDelayMs?: number;
}

export interface RedisCounters {
  /** Messages sent to Redis. */
  published: number;
  /** Messages from other servers delivered here. */
  received: number;
  /** Publishes not sent because Redis was unreachable. */
  dropped: number;
  /** Messages from Redis that were not whole data frames in our envelope. */
  rejected: number;
}

export const RedisDefaults = { channelPrefix: 'wsthreads:', maxReconnectDelayMs: 2000, firstReconnectDelayMs: 50 } as const;

/** Magic byte and version of the envelope, then the 16-byte id of the server that published. */
const EnvelopeMagic = 0x77;
const EnvelopeVersion = 1;
const OriginBytes = 16;
const EnvelopeHeader = 2 + OriginBytes;

export interface RedisBridgeEvents {
  /** Another server's message for `topic`: whole frames, checked. */
  message(topic: string, frames: Uint8Array): void;
  stateChanged(state: PubSubState, error: Error | undefined): void;
}

export class RedisBridge {
  readonly counters: RedisCounters = { published: 0, received: 0, dropped: 0, rejected: 0 };
  readonly #prefix: string;
  readonly #header: Buffer;
  #subscriber: Redis | undefined;
  #publisher: Redis | undefined;
  /** Settles once ioredis is loaded and both clients exist (or the bridge closed first). */
  readonly #opened: Promise<void>;
  readonly #events: RedisBridgeEvents;
  /** Topics with subscribers in this process: subscribed in Redis whenever it is there. */
  readonly #topics = new Set<string>();
  #state: PubSubState = PubSubState.Connecting;
  #lastError: Error | undefined;
  #everConnected = false;
  #closed = false;

  constructor(options: RedisPubSubOptions, events: RedisBridgeEvents) {
    this.#prefix = options.channelPrefix ?? RedisDefaults.channelPrefix;
    this.#events = events;
    const maxDelay = options.maxReconnectDelayMs ?? RedisDefaults.maxReconnectDelayMs;
    this.#header = Buffer.alloc(EnvelopeHeader);
    this.#header[0] = EnvelopeMagic;
    this.#header[1] = EnvelopeVersion;
    randomBytes(OriginBytes).copy(this.#header, 2);
    const redisOptions: RedisOptions = {
      // Our own resubscription (on 'ready') knows the topics of now, not those of the past.
      autoResubscribe: false,
      // Nothing queues without bound while Redis is away.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(RedisDefaults.firstReconnectDelayMs * 2 ** (attempt - 1), maxDelay),
    };
    this.#opened = import('ioredis').then(
      ({ Redis }) => this.#open(Redis, options.redis, redisOptions),
      (error: Error) => {
        this.#lastError = error;
        this.#setState(PubSubState.Closed);
      },
    );
  }

  #open(RedisClient: typeof Redis, url: string, redisOptions: RedisOptions): void {
    if (this.#closed) return;
    const subscriber = new RedisClient(url, redisOptions);
    const publisher = new RedisClient(url, redisOptions);
    for (const client of [subscriber, publisher]) {
      client.on('ready', this.#updateState);
      client.on('close', this.#updateState);
      client.on('reconnecting', this.#updateState);
      client.on('end', this.#updateState);
      client.on('error', this.#onError);
    }
    subscriber.on('ready', this.#resubscribe);
    subscriber.on('messageBuffer', this.#onMessage);
    this.#subscriber = subscriber;
    this.#publisher = publisher;
  }

  get state(): PubSubState {
    return this.#state;
  }

  /** A topic got its first subscriber in this process (true) or lost its last. */
  interest(topic: string, interested: boolean): void {
    if (interested) this.#topics.add(topic);
    else this.#topics.delete(topic);
    const subscriber = this.#subscriber;
    if (subscriber?.status !== 'ready') return;
    const channel = this.#prefix + topic;
    const done = interested ? subscriber.subscribe(channel) : subscriber.unsubscribe(channel);
    done.catch(this.#onError);
  }

  /** A message published in this process, for the other servers. */
  publish(topic: string, frames: Uint8Array): void {
    const publisher = this.#publisher;
    if (publisher?.status !== 'ready') {
      this.counters.dropped++;
      return;
    }
    this.counters.published++;
    publisher.publish(this.#prefix + topic, Buffer.concat([this.#header, frames])).catch(() => {
      this.counters.dropped++;
      this.counters.published--;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#topics.clear();
    await this.#opened;
    const clients = [this.#subscriber, this.#publisher].filter((client) => client !== undefined);
    await Promise.allSettled(clients.map((client) => client.quit()));
    for (const client of clients) client.disconnect();
    this.#setState(PubSubState.Closed);
  }

  readonly #resubscribe = (): void => {
    if (this.#topics.size === 0) return;
    // Only the subscriber's 'ready' calls this: it exists.
    this.#subscriber!.subscribe(...[...this.#topics].map((topic) => this.#prefix + topic)).catch(this.#onError);
  };

  readonly #onMessage = (channel: Buffer, message: Buffer): void => {
    if (message.length < EnvelopeHeader || message[0] !== EnvelopeMagic || message[1] !== EnvelopeVersion) {
      this.counters.rejected++;
      return;
    }
    // Our own, back from Redis: delivered here when it was published.
    if (message.compare(this.#header, 2, EnvelopeHeader, 2, EnvelopeHeader) === 0) return;
    const frames = message.subarray(EnvelopeHeader);
    if (!isServerMessage(frames)) {
      this.counters.rejected++;
      return;
    }
    const topic = channel.toString('utf8', Buffer.byteLength(this.#prefix));
    this.counters.received++;
    this.#events.message(topic, frames);
  };

  readonly #onError = (error: Error): void => {
    // ioredis reports each failed attempt; the state says what it means, and retries go on.
    this.#lastError = error;
  };

  readonly #updateState = (): void => {
    if (this.#closed) return;
    const ready = this.#subscriber?.status === 'ready' && this.#publisher?.status === 'ready';
    if (ready) this.#everConnected = true;
    this.#setState(ready ? PubSubState.Connected : this.#everConnected ? PubSubState.Reconnecting : PubSubState.Connecting);
  };

  #setState(state: PubSubState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#events.stateChanged(state, state === PubSubState.Connected ? undefined : this.#lastError);
  }
}
