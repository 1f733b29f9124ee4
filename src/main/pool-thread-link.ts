/**
 * The owner end of a thread link: one MessagePort per pool thread that carries everything of
 * every connection of that thread. Fresh sockets leave in one message per owner turn (many
 * sockets in one transfer list), and so do the handshake answers and the commands of the
 * thread's owner-side sockets, with the acknowledgement of the thread's turns read; the thread's
 * handshake questions, signals and command statuses arrive in one message per worker turn and
 * are dispatched to the connections, in order.
 */
import type { Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import type { HttpRequest } from '../shared/connection/http-response.ts';
import type {
  AdoptBatch,
  ConnectionSettings,
  CountedNews,
  HandshakeDecision,
  HandshakeFailure,
  HandshakeSummary,
  OwnerLinkMessage,
  ThreadListenSpec,
  WorkerLinkMessage,
} from '../shared/wire/thread-messages.ts';
import {
  countSignalCalls,
  SinkCall,
  readThreadSignals,
  type ThreadSignalBatch,
  type ThreadSignalReader,
  type WorkerStatus,
} from '../shared/wire/signal-batch.ts';
import { readStatuses, writeConnectionCommands, type ThreadStatusReader } from '../shared/wire/command-batch.ts';
import { AnswerWriter, readHandshakeCalls, type HandOverRequest, type HandshakeReader, type RelayEnding } from '../shared/wire/handshake-batch.ts';
import { writePublished, type WorkerTopicBatch } from '../shared/wire/topic-batch.ts';
import type { PubSubCounters } from '../shared/pubsub/pubsub-stats.ts';
import type { CompressedFrames } from '../shared/engine/extension.ts';
import { WebSocketError } from '../shared/engine/errors.ts';

/** Where the link hands the topics news of its thread (the server's TopicHub). */
export interface LinkTopics {
  readonly counters: PubSubCounters;
  fromThread(threadId: number, batch: WorkerTopicBatch): void;
  /** A subscriber more (`delta` 1) or fewer (-1) on thread `threadId`. */
  count(threadId: number, topic: string, delta: number): void;
  publish(topic: string, message: string | Uint8Array, originConnectionId: number): void;
}

/** What the link tells the pool beyond one known connection's news. */
export interface LinkEvents {
  /** The thread accepted connection `connectionId` itself (see ThreadListener): its owner end, made now. */
  acceptedInThread(link: PoolThreadLink, connectionId: number): LinkedConnection | undefined;
  /** The thread's listener failed to accept (EMFILE, say). */
  acceptFailed(code: string): void;
  /** Counted connections (see CountedNews) opened in the thread; called before the link counts them. */
  countedOpening(): void;
  /** A counted connection's handler module failed to load. */
  countedFailed(error: WebSocketError): void;
}

/** Why a thread could not listen (the bind's error), or undefined once it listens. */
export type ListenFailure = { code: string; message: string } | undefined;

/** What a request to a thread that is gone gets. */
const GoneStatus: WorkerStatus = { appliedSeq: 0, bytesToWrite: 0 };
const GoneListener: ListenFailure = { code: 'ERR_WORKER_EXITED', message: 'The worker thread exited' };

/** The answer a reply of the thread carries to the request it answers. */
function answerOf(reply: Exclude<WorkerLinkMessage, { kind: 'turn' | 'acceptError' }>): unknown {
  switch (reply.kind) {
    case 'flushed': return reply.status;
    case 'census': return reply.held;
    case 'listening': return reply.error;
    case 'unlistened': return undefined;
  }
}

/** Counters of the traffic between the threads, for measurements and tests. */
export interface ThreadTrafficStats {
  /** Messages that carried signals from threads (one per worker event-loop turn with any). */
  signalCalls: number;
  /** Sink calls (messages, frames, pongs, bytesWritten, lifecycle) inside those messages. */
  signalEvents: number;
  /** Messages that carried commands to threads (one per owner event-loop turn and thread with any). */
  commandCalls: number;
}

/** What the link delivers one connection's news to (see PoolConnection). */
export interface LinkedConnection {
  decide(summary: HandshakeSummary): void;
  httpRequest(request: HttpRequest): void;
  handshakeFailed(failure: HandshakeFailure): void;
  handshakeEnded(): void;
  handOver(request: HandOverRequest): void;
  clientData(bytes: Uint8Array): void;
  clientEnded(): void;
  clientFlushed(bytes: number): void;
  /** One turn's signals, with the status of the commands applied (two numbers: no object per turn). */
  signals(appliedSeq: number, bytesToWrite: number, calls: unknown[]): void;
  /** Upgraded and only counted in its thread from now on (see CountedNews): the owner forgets it, silently. */
  countedInThread(): void;
  /** What the thread has applied of the connection's commands, and what it still has to write. */
  applyStatus(appliedSeq: number, bytesToWrite: number): void;
}

/** An owner-side socket with commands to send (see WorkerMirrorBackend). */
export interface CommandSource {
  readonly connectionId: number;
  /** The commands gathered since the last take, or undefined if there are none. */
  takeCommands(): { seq: number; calls: unknown[]; transfer: ArrayBuffer[] } | undefined;
}

/** Fresh sockets for the thread, gathered over one owner turn. */
interface AdoptQueue {
  sockets: Socket[];
  connectionIds: number[];
  settings: ConnectionSettings;
  moved: Array<(moved: boolean) => void>;
}

export class PoolThreadLink implements ThreadSignalReader, ThreadStatusReader, HandshakeReader {
  readonly threadId: number;
  /** Unique among the pool's live links: what the thread numbers the connections it accepts with (connection-ids.ts). */
  readonly idSlot: number;
  readonly #port: MessagePort;
  readonly #connections: ReadonlyMap<number, LinkedConnection>;
  readonly #stats: ThreadTrafficStats;
  readonly #topics: LinkTopics;
  /** Messages for the thread's subscribers, gathered over one owner turn (topic-batch.ts). */
  #published: unknown[] = [];
  readonly #answers = new AnswerWriter();
  #adopting: AdoptQueue | undefined;
  /** The TLS generation the thread has (0: its workerData's); a newer one goes with the next sockets. */
  #tlsGeneration = 0;
  #dirty: CommandSource[] = [];
  #scheduled = false;
  #closed = false;
  /** Connections given to the thread and not yet over: while there are any, the link keeps the process alive. */
  #live = 0;
  /** Those of them the owner only counts (see CountedNews); all gone with the thread. */
  #counted = 0;
  /** The thread's turns read since the last message to it: acknowledged with the next one. */
  #acks = 0;
  /** Requests waiting for the thread's answer (flush, census), by request id. */
  readonly #requests = new Map<number, { resolve(answer: unknown): void; gone: unknown }>();
  readonly #events: LinkEvents;
  /** The thread accepts connections itself: the link keeps the process alive, as a listener would. */
  #listening = false;
  #nextRequestId = 0;

  constructor(threadId: number, idSlot: number, port: MessagePort, connections: ReadonlyMap<number, LinkedConnection>, stats: ThreadTrafficStats, topics: LinkTopics, events: LinkEvents, onClose: () => void) {
    this.threadId = threadId;
    this.idSlot = idSlot;
    this.#events = events;
    this.#port = port;
    this.#connections = connections;
    this.#stats = stats;
    this.#topics = topics;
    port.on('message', this.#onMessage);
    // Live connections keep the process alive (see #live), not the link itself.
    port.unref();
    // The thread ended (it died or the pool was destroyed): its end of the port closed with it.
    port.once('close', () => {
      this.close();
      onClose();
    });
  }

  get liveConnections(): number {
    return this.#live;
  }

  get countedConnections(): number {
    return this.#closed ? 0 : this.#counted;
  }

  /**
   * `closeAllConnections()`: the thread closes every counted connection it has; resolves once all
   * of those have ended and are counted here (or the thread is gone).
   */
  closeCounted(code: number, reason: string): Promise<void> {
    return this.#ask((requestId) => ({ kind: 'closeCounted', requestId, code, reason }), undefined);
  }

  /** `closeAllConnections()` past its timeout: the thread drops its counted connections. */
  abortCounted(): void {
    if (!this.#closed) this.#post({ kind: 'abortCounted' }, []);
  }

  // ---- fresh sockets ------------------------------------------------------------------------------

  /** Queues a fresh socket for the thread; `moved` says whether Node moved it. */
  adopt(socket: Socket, connectionId: number, settings: ConnectionSettings, moved: (moved: boolean) => void): void {
    this.holding();
    const queue = (this.#adopting ??= { sockets: [], connectionIds: [], settings, moved: [] });
    queue.sockets.push(socket);
    queue.connectionIds.push(connectionId);
    queue.moved.push(moved);
    // The settings of the latest socket: a setter called this turn applies to the turn's sockets.
    queue.settings = settings;
    this.#schedule();
  }

  /** A connection of this thread begins (moved here, or accepted by the thread). */
  holding(): void {
    this.#live++;
    this.#updateRef();
  }

  /** A connection of this thread is over (or never came here). */
  released(): void {
    this.#live--;
    this.#updateRef();
  }

  #updateRef(): void {
    if (this.#live > 0 || this.#listening) this.#port.ref();
    else this.#port.unref();
  }

  // ---- the thread's own listener ------------------------------------------------------------------

  /** Has the thread listen on `spec` (see ThreadListener); resolves with the bind's failure, if any. */
  listen(spec: ThreadListenSpec, settings: ConnectionSettings): Promise<ListenFailure> {
    const failure = this.#ask((requestId) => ({ kind: 'listen', requestId, spec, settings, idSlot: this.idSlot }), GoneListener);
    if (!this.#closed) {
      this.#listening = true;
      this.#updateRef();
    }
    return failure;
  }

  /** New settings for the connections the thread accepts from now on. */
  listenSettings(settings: ConnectionSettings): void {
    if (!this.#closed && this.#listening) this.#post({ kind: 'listenSettings', settings }, []);
  }

  setAcceptPaused(paused: boolean): void {
    if (!this.#closed && this.#listening) this.#post({ kind: 'accepting', paused }, []);
  }

  /** Resolves once the thread's listening socket is closed. */
  unlisten(): Promise<void> {
    if (this.#closed || !this.#listening) return Promise.resolve();
    this.#listening = false;
    const closed = this.#ask((requestId) => ({ kind: 'unlisten', requestId }), undefined);
    this.#updateRef();
    return closed;
  }

  #sendSockets(): void {
    const queue = this.#adopting;
    this.#adopting = undefined;
    if (queue === undefined) return;
    // The TLS configuration crosses only when the thread's is older (setSslConfiguration).
    const tls = queue.settings.tls;
    const newTls = tls !== undefined && tls.generation > this.#tlsGeneration;
    const settings = newTls || tls === undefined ? queue.settings : { ...queue.settings, tls: undefined };
    const batch: AdoptBatch = { sockets: queue.sockets, connectionIds: queue.connectionIds, settings };
    if (this.#closed) {
      for (const report of queue.moved) report(false);
      return;
    }
    try {
      this.#post({ kind: 'adopt', batch }, batch.sockets);
    } catch (error) {
      // Nothing moved: postMessage refuses the whole message. A socket that has been read from
      // cannot move; try each alone, so that only such a socket stays here.
      if ((error as NodeJS.ErrnoException)?.code !== 'ERR_WORKER_HANDLE_NOT_TRANSFERABLE') throw error;
      if (batch.sockets.length === 1) {
        queue.moved[0]!(false);
        return;
      }
      for (let i = 0; i < batch.sockets.length; i++) {
        this.#live--;
        this.adopt(batch.sockets[i]!, batch.connectionIds[i]!, queue.settings, queue.moved[i]!);
        this.#sendSockets();
      }
      return;
    }
    if (newTls) this.#tlsGeneration = tls.generation;
    for (const report of queue.moved) report(true);
  }

  #post(message: OwnerLinkMessage, transfer: ReadonlyArray<ArrayBuffer | Socket>): void {
    this.#port.postMessage(message, transfer as never);
  }

  // ---- from the thread ----------------------------------------------------------------------------

  readonly #onMessage = (message: WorkerLinkMessage): void => {
    if (message.kind === 'acceptError') {
      this.#events.acceptFailed(message.code);
      return;
    }
    if (message.kind !== 'turn') {
      const request = this.#requests.get(message.requestId);
      this.#requests.delete(message.requestId);
      if (message.kind === 'listening' && message.error !== undefined) {
        this.#listening = false;
        this.#updateRef();
      }
      request?.resolve(answerOf(message));
      return;
    }
    this.#stats.signalCalls++;
    this.#acks++;
    this.#schedule();
    if (message.statuses.length > 0) readStatuses(message.statuses, this);
    if (message.counted !== undefined) this.#countedNews(message.counted);
    this.signals(message);
    if (message.topics !== undefined) this.#topics.fromThread(this.threadId, message.topics);
  };

  #countedNews(news: CountedNews): void {
    if (news.opened > 0) this.#events.countedOpening();
    // A moved connection's record goes (which releases it here), and it counts on.
    for (const connectionId of news.fromOwner) this.#connections.get(connectionId)?.countedInThread();
    const change = news.opened + news.fromOwner.length - news.ended;
    this.#counted += change;
    this.#live += change;
    this.#updateRef();
    for (const failure of news.failures) this.#events.countedFailed(WebSocketError.fromJSON(failure));
    for (const requestId of news.closed) {
      const request = this.#requests.get(requestId);
      this.#requests.delete(requestId);
      request?.resolve(undefined);
    }
  }

  /** One worker turn: its handshake questions first, then its signals, in order. */
  signals(batch: ThreadSignalBatch): void {
    if (batch.handshakes.length > 0) readHandshakeCalls(batch.handshakes, this);
    readThreadSignals(batch, this);
  }

  /**
   * The connection a handshake call is about. One the thread accepted itself is new to the owner
   * at its first call (a decision, a plain request, a failure or a hand-over): it is made now.
   */
  #connectionOf(connectionId: number): LinkedConnection | undefined {
    return this.#connections.get(connectionId) ?? (connectionId < 0 && !this.#closed ? this.#events.acceptedInThread(this, connectionId) : undefined);
  }

  decide(connectionId: number, summary: HandshakeSummary): void {
    this.#connectionOf(connectionId)?.decide(summary);
  }

  httpRequest(connectionId: number, request: HttpRequest): void {
    this.#connectionOf(connectionId)?.httpRequest(request);
  }

  failed(connectionId: number, failure: HandshakeFailure): void {
    this.#connectionOf(connectionId)?.handshakeFailed(failure);
  }

  ended(connectionId: number): void {
    this.#connections.get(connectionId)?.handshakeEnded();
  }

  handOver(connectionId: number, request: HandOverRequest): void {
    this.#connectionOf(connectionId)?.handOver(request);
  }

  clientData(connectionId: number, bytes: Uint8Array): void {
    this.#connections.get(connectionId)?.clientData(bytes);
  }

  clientEnded(connectionId: number): void {
    this.#connections.get(connectionId)?.clientEnded();
  }

  clientFlushed(connectionId: number, bytes: number): void {
    this.#connections.get(connectionId)?.clientFlushed(bytes);
  }

  connectionSignals(connectionId: number, appliedSeq: number, bytesToWrite: number, calls: unknown[]): void {
    this.#stats.signalEvents += countSignalCalls(calls);
    try {
      // A connection the standing acceptance took in its thread is new to the owner at its `Connected`.
      const connection = calls[0] === SinkCall.Connected ? this.#connectionOf(connectionId) : this.#connections.get(connectionId);
      connection?.signals(appliedSeq, bytesToWrite, calls);
    } catch (error) {
      // A listener of the application threw: it surfaces as any throwing listener's does, and
      // the other connections of the turn still get their signals.
      queueMicrotask(() => { throw error; });
    }
  }

  // ---- to the thread ------------------------------------------------------------------------------

  answerDecision(connectionId: number, decision: HandshakeDecision): void {
    if (this.#closed) return;
    this.#answers.decision(connectionId, decision);
    this.#schedule();
  }

  answerHttp(connectionId: number, response: Uint8Array): void {
    if (this.#closed) return;
    this.#answers.httpResponse(connectionId, response);
    this.#schedule();
  }

  relayWrite(connectionId: number, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#answers.relayWrite(connectionId, bytes);
    this.#schedule();
  }

  relayEnd(connectionId: number, ending: RelayEnding): void {
    if (this.#closed) return;
    this.#answers.relayEnd(connectionId, ending);
    this.#schedule();
  }

  relayReading(connectionId: number, reading: boolean): void {
    if (this.#closed) return;
    this.#answers.relayReading(connectionId, reading);
    this.#schedule();
  }

  /** `source` has commands for this turn (called once per turn, on its first command). */
  queue(source: CommandSource): void {
    if (this.#closed) return;
    this.#dirty.push(source);
    this.#schedule();
  }

  /** One of the owner's mirrors of this thread's sockets subscribed (`delta` 1) or unsubscribed (-1). */
  countSubscription(topic: string, delta: number): void {
    this.#topics.count(this.threadId, topic, delta);
  }

  /** Published by the owner's mirror of connection `connectionId`. */
  publishFrom(connectionId: number, topic: string, message: string | Uint8Array): void {
    this.#topics.publish(topic, message, connectionId);
  }

  /** Queues a published message for the thread's subscribers; it leaves with this turn's message. */
  queuePublished(topic: string, originConnectionId: number, frames: Uint8Array, compressed: CompressedFrames | undefined): void {
    if (this.#closed) return;
    writePublished(this.#published, topic, originConnectionId, frames, compressed);
    this.#schedule();
  }

  /** Sends `source`'s commands now (ahead of the turn's batch), e.g. before a flush. */
  sendNow(source: CommandSource): void {
    this.#sendCommands([source]);
  }

  flush(connectionId: number): Promise<WorkerStatus> {
    return this.#ask((requestId) => ({ kind: 'flush', requestId, connectionId }), GoneStatus);
  }

  /** How much the thread's end of the link holds (0 when it is gone). */
  census(): Promise<number> {
    return this.#ask((requestId) => ({ kind: 'census', requestId }), 0);
  }

  /** Posts the request `make` builds; resolves with the thread's answer, or with `gone` if the thread is or goes first. */
  #ask<T>(make: (requestId: number) => OwnerLinkMessage, gone: T): Promise<T> {
    if (this.#closed) return Promise.resolve(gone);
    const requestId = ++this.#nextRequestId;
    this.#post(make(requestId), []);
    return new Promise((resolve) => this.#requests.set(requestId, { resolve: resolve as (answer: unknown) => void, gone }));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#sendTurn);
  }

  readonly #sendTurn = (): void => {
    this.#scheduled = false;
    // Sockets first: a worker reads the answers and commands for connections it already has.
    this.#sendSockets();
    const dirty = this.#dirty;
    this.#dirty = [];
    this.#sendCommands(dirty);
  };

  #sendCommands(sources: CommandSource[]): void {
    if (this.#closed) return;
    const entries: unknown[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const source of sources) {
      const taken = source.takeCommands();
      if (taken === undefined) continue;
      writeConnectionCommands(entries, source.connectionId, taken.seq, taken.calls);
      for (const buffer of taken.transfer) transfer.push(buffer);
    }
    const published = this.#published;
    if (entries.length === 0 && this.#answers.isEmpty && this.#acks === 0 && published.length === 0) return;
    const answers = this.#answers.take();
    for (const buffer of answers.transfer) transfer.push(buffer);
    this.#stats.commandCalls++;
    const acks = this.#acks;
    this.#acks = 0;
    if (published.length === 0) {
      this.#post({ kind: 'turn', acks, answers: answers.calls, entries }, transfer);
      return;
    }
    this.#published = [];
    this.#topics.counters.threadPosts++;
    this.#post({ kind: 'turn', acks, answers: answers.calls, entries, published }, transfer);
  }

  connectionStatus(connectionId: number, appliedSeq: number, bytesToWrite: number): void {
    this.#connections.get(connectionId)?.applyStatus(appliedSeq, bytesToWrite);
  }

  /** Connections and queued calls this end holds (for checks that nothing leaks). */
  get size(): number {
    return this.#live + this.#dirty.length + this.#requests.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dirty = [];
    this.#published = [];
    const queue = this.#adopting;
    this.#adopting = undefined;
    if (queue !== undefined) for (const report of queue.moved) report(false);
    // A request waiting for a thread that is gone has nothing left to wait for.
    for (const request of this.#requests.values()) request.resolve(request.gone);
    this.#requests.clear();
    this.#port.close();
  }
}
