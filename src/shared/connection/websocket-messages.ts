import type { Buffer } from 'node:buffer';
import type { WebSocketError } from '../engine/errors.ts';

/** How far an async iteration may fall behind before the socket stops reading. */
export interface MessageQueueLimits {
  /** Messages queued for the consumer before reading pauses (default 64). */
  maxQueuedMessages?: number;
  /** Payload bytes queued for the consumer before reading pauses (default 4 MiB). */
  maxQueuedBytes?: number;
}

export const DefaultMessageQueueLimits = { maxQueuedMessages: 64, maxQueuedBytes: 4 * 1024 * 1024 } as const;

export type Message = string | Buffer;

/** What the iterator needs from its WebSocket, given by the WebSocket itself. */
export interface MessageSource {
  /** Subscribes; returns the unsubscribe function. `ended` comes once, with the error that ended the connection, if any. */
  subscribe(listener: { message(message: Message): void; ended(error: WebSocketError | undefined): void }): () => void;
  /** Holds reading paused while the consumer lags; `release` undoes one `hold`. */
  hold(): void;
  release(): void;
  /** The socket's `readBufferSize()`, a further bound on the queued bytes (0: none); read at each message. */
  readBufferSize?(): number;
}

/**
 * `for await (const message of socket)`: messages in order, ending when the socket disconnects
 * (throwing the error that ended it, if one did, after the messages before it). A consumer slower
 * than the limits pauses reading from the socket, so TCP pushes back on the peer; reading resumes
 * once the queue is down to half.
 */
export class MessageIterator implements AsyncIterableIterator<Message> {
  readonly #source: MessageSource;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #queue: Message[] = [];
  #head = 0;
  #queuedBytes = 0;
  #holding = false;
  #ended = false;
  #endError: WebSocketError | undefined;
  #waiter: { resolve: (result: IteratorResult<Message>) => void; reject: (error: unknown) => void } | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(source: MessageSource, limits: MessageQueueLimits = {}, alreadyEnded = false) {
    this.#source = source;
    this.#maxMessages = limits.maxQueuedMessages ?? DefaultMessageQueueLimits.maxQueuedMessages;
    this.#maxBytes = limits.maxQueuedBytes ?? DefaultMessageQueueLimits.maxQueuedBytes;
    if (alreadyEnded) {
      this.#ended = true;
      return;
    }
    this.#unsubscribe = source.subscribe({
      message: (message) => this.#push(message),
      ended: (error) => this.#end(error),
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Message>> {
    if (this.#waiter !== undefined) return Promise.reject(new Error('next() called while an earlier next() is pending'));
    if (this.#head < this.#queue.length) return Promise.resolve({ done: false, value: this.#shift() });
    if (this.#ended) return this.#finalResult();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Message>> {
    this.#close();
    this.#queue.length = 0;
    this.#head = 0;
    return Promise.resolve({ done: true, value: undefined });
  }

  #push(message: Message): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: message });
      return;
    }
    this.#queue.push(message);
    this.#queuedBytes += message.length;
    if (!this.#holding && (this.#queue.length - this.#head >= this.#maxMessages || this.#queuedBytes >= this.#byteBound())) {
      this.#holding = true;
      this.#source.hold();
    }
  }

  #shift(): Message {
    const message = this.#queue[this.#head]!;
    this.#queue[this.#head++] = '';
    this.#queuedBytes -= message.length;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#holding && this.#queue.length - this.#head <= this.#maxMessages / 2 && this.#queuedBytes <= this.#byteBound() / 2) {
      this.#holding = false;
      this.#source.release();
    }
    return message;
  }

  #byteBound(): number {
    const readBufferSize = this.#source.readBufferSize?.() ?? 0;
    return readBufferSize > 0 ? Math.min(this.#maxBytes, readBufferSize) : this.#maxBytes;
  }

  #end(error: WebSocketError | undefined): void {
    this.#endError = error;
    this.#close();
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    this.#finalResult().then(waiter.resolve, waiter.reject);
  }

  #finalResult(): Promise<IteratorResult<Message>> {
    const error = this.#endError;
    if (error !== undefined) {
      // Thrown once; a further next() reports the end.
      this.#endError = undefined;
      return Promise.reject(error);
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  #close(): void {
    this.#ended = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#holding) {
      this.#holding = false;
      this.#source.release();
    }
  }
}
