/**
 * The worker end of a thread link: one MessagePort per worker thread, over which every
 * connection of the thread talks to the owner. Fresh sockets arrive here in batches, or are
 * accepted by the thread's own listener (thread-listener.ts), and run their opening handshakes
 * in this thread (worker-connection.ts); their questions to the owner
 * (decisions, plain HTTP answers), every signal of every connection and the statuses of the
 * commands applied leave in one message per event-loop turn; the owner's answers and commands
 * arrive the same way, one message per owner turn, and are dispatched to the connections.
 *
 * Backpressure: when the owner falls behind (too many turns or payload bytes it has not
 * acknowledged) every connection of the thread stops reading, which is real TCP backpressure
 * on the clients, until the owner catches up. Nothing is dropped.
 */
import { threadId, type MessagePort } from 'node:worker_threads';
import type { HttpRequest } from '../shared/connection/http-response.ts';
import type { Socket } from 'node:net';
import type { AdoptBatch, ConnectionSettings, CountedNews, HandshakeDecision, HandshakeFailure, HandshakeSummary, OwnerLinkMessage, ThreadListenSpec, WorkerLinkMessage } from '../shared/wire/thread-messages.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';
import { writeConnectionSignals, type WorkerStatus } from '../shared/wire/signal-batch.ts';
import { threadConnectionId } from '../shared/wire/connection-ids.ts';
import { readThreadCommands, writeStatus, type ThreadCommandReader, type ThreadStatusList } from '../shared/wire/command-batch.ts';
import { HandshakeWriter, readAnswerCalls, type AnswerReader, type RelayEnding } from '../shared/wire/handshake-batch.ts';
import type { Duplex } from 'node:stream';
import { WorkerHttpRelay, type RelayOutbox } from './worker-http-relay.ts';
import { PauseReason } from './command-receiver.ts';
import type { ForwarderOutbox, SignalForwarder } from './signal-forwarder.ts';
import type { CountedConnection, CountedOutbox } from './counted-connection.ts';
import { serveConnection, serveUpgraded } from './worker-connection.ts';
import { remadeSocket } from './transferred-socket.ts';
import type { HandshakeHost, UpgradedConnection } from '../shared/connection/server-handshake.ts';
import { ThreadTopics } from './thread-topics.ts';
import { ThreadListener, type AcceptedSocketSink } from './thread-listener.ts';

/** Turns the owner has not acknowledged above which reading pauses. */
const MaxBatchesInFlight = 8;
/** Payload bytes the owner has not acknowledged above which reading pauses. */
const MaxBytesInFlight = 16 * 1024 * 1024;

/**
 * How long news nobody on the owner is waiting for may wait for company: the lifecycle of
 * handler-mode connections (Connected, Disconnected), which the owner only books. Without it,
 * every connection that opens or closes alone in a turn would wake the owner thread (and the
 * owner's acknowledgement this thread) once; with it, a thread wakes the owner at most about
 * 1000 / LifecycleBatchMs times a second for them, however many connections come and go. Any
 * other news (a handshake question, a mirror's signals, a publish) sends everything at once.
 */
const LifecycleBatchMs = 2;

/** A turn sent and not acknowledged yet: its payload bytes, and the connections it carried. */
interface SentTurn {
  bytes: number;
  forwarders: SignalForwarder[];
}

/** A question of a connection's handshake, waiting for the owner's answer. */
interface Question<T> {
  resolve(answer: T): void;
}

export class ThreadChannel implements ForwarderOutbox, CountedOutbox, ThreadCommandReader, AnswerReader, RelayOutbox, AcceptedSocketSink, HandshakeHost {
  readonly threadId = threadId;
  readonly #port: MessagePort;
  readonly #connections = new Map<number, SignalForwarder>();
  readonly #handshakes = new HandshakeWriter();
  readonly #decisions = new Map<number, Question<HandshakeDecision>>();
  readonly #responses = new Map<number, Question<Uint8Array>>();
  readonly #relays = new Map<number, WorkerHttpRelay>();
  /** The connections the owner only counts (counted-connection.ts), and this turn's news of them. */
  readonly #counted = new Set<CountedConnection>();
  #countedNews: CountedNews | undefined;
  /** `closeCounted` requests, each with the connections it closed that have not ended yet. */
  #countedClosing: Array<{ requestId: number; open: Set<CountedConnection> }> = [];
  #dirty: SignalForwarder[] = [];
  #scheduled = false;
  /** Set while only lifecycle news waits (see LifecycleBatchMs). */
  #lifecycleTimer: NodeJS.Timeout | undefined;
  readonly #unacknowledged: SentTurn[] = [];
  #bytesInFlight = 0;
  #behind = false;
  /** Statuses of the commands applied since the last turn sent. */
  #statuses: ThreadStatusList = [];
  /** Connections that reported bytes still to write and will report again once those are written. */
  readonly #awaitingDrain = new Set<number>();
  /** Connections whose end the owner acknowledged in the turn being read (see #releaseOver). */
  #over: SignalForwarder[] = [];
  /** The thread's own listening socket, while the threads accept. */
  #listener: ThreadListener | undefined;
  /**
   * The connections this thread accepted itself, over all its listeners (a listen after a
   * close() must not number them again while the first ones are open), and its link's slot.
   */
  #acceptedCount = 0;
  #idSlot = 0;
  /** The thread's topics: what is published and subscribed here travels with this link's turns. */
  readonly topics = new ThreadTopics(() => this.#scheduleSend());

  constructor(port: MessagePort) {
    this.#port = port;
    port.on('message', this.#onMessage);
    // The link must not keep the thread alive on its own: the connections' sockets do.
    port.unref();
  }

  readonly #onMessage = (message: OwnerLinkMessage): void => {
    switch (message.kind) {
      case 'adopt':
        this.#adopt(message.batch);
        break;
      case 'turn':
        this.#acknowledged(message.acks);
        if (message.answers.length > 0) readAnswerCalls(message.answers, this);
        readThreadCommands(message, this);
        this.#releaseOver();
        if (message.published !== undefined) this.topics.deliverPublished(message.published);
        if (this.#statuses.length > 0) this.#scheduleSend();
        break;
      case 'flush':
        void this.#flush(message.connectionId).then((status) => this.#post({ kind: 'flushed', requestId: message.requestId, status }));
        break;
      case 'census':
        this.#post({ kind: 'census', requestId: message.requestId, held: this.size });
        break;
      case 'listen':
        this.#idSlot = message.idSlot;
        void this.#listen(message.requestId, message.spec, message.settings);
        break;
      case 'listenSettings':
        this.topics.deflate = message.settings.deflate;
        if (this.#listener !== undefined) this.#listener.settings = message.settings;
        break;
      case 'accepting':
        this.#listener?.setPaused(message.paused);
        break;
      case 'unlisten':
        this.#listener?.close();
        this.#listener = undefined;
        this.#post({ kind: 'unlistened', requestId: message.requestId });
        break;
      case 'closeCounted':
        this.#closeCounted(message.requestId, message.code, message.reason);
        break;
      case 'abortCounted':
        for (const counted of this.#counted) counted.backend.abort();
        break;
    }
  };

  async #listen(requestId: number, spec: ThreadListenSpec, settings: ConnectionSettings): Promise<void> {
    this.topics.deflate = settings.deflate;
    this.#listener?.close();
    const listener = new ThreadListener(spec, settings, this);
    this.#listener = listener;
    try {
      await listener.listen();
      this.#post({ kind: 'listening', requestId });
    } catch (error) {
      if (this.#listener === listener) this.#listener = undefined;
      const { code = 'UNKNOWN', message } = error as NodeJS.ErrnoException;
      this.#post({ kind: 'listening', requestId, error: { code, message } });
    }
  }

  accepted(socket: Socket, settings: ConnectionSettings): void {
    serveConnection(socket, threadConnectionId(++this.#acceptedCount, this.#idSlot), settings, this);
  }

  acceptFailed(error: NodeJS.ErrnoException): void {
    this.#post({ kind: 'acceptError', code: error.code ?? 'UNKNOWN' });
  }

  #post(message: WorkerLinkMessage, transfer: ArrayBuffer[] = []): void {
    this.#port.postMessage(message, transfer);
  }

  register(forwarder: SignalForwarder): void {
    this.#connections.set(forwarder.connectionId, forwarder);
    if (this.#behind) forwarder.receiver.setPaused(PauseReason.OwnerBacklog, true);
  }

  /** The connection is over here: its commands are no longer read, its subscriptions dropped. */
  release(forwarder: SignalForwarder): void {
    forwarder.receiver.release();
    this.#connections.delete(forwarder.connectionId);
  }

  over(forwarder: SignalForwarder): void {
    this.#over.push(forwarder);
  }

  /**
   * Lets go of the connections whose end the owner has acknowledged, once the commands of the
   * same owner turn (made by the listeners that saw the end) have been applied.
   */
  #releaseOver(): void {
    if (this.#over.length === 0) return;
    const over = this.#over;
    this.#over = [];
    for (const forwarder of over) this.release(forwarder);
  }

  /** Connections, questions and queued calls this end holds (for checks that nothing leaks). */
  get size(): number {
    return this.#connections.size + this.#counted.size + this.#countedClosing.length + this.#decisions.size + this.#responses.size + this.#relays.size + this.#awaitingDrain.size + (this.#listener?.size ?? 0);
  }

  // ---- from the owner ---------------------------------------------------------------------------

  #adopt(batch: AdoptBatch): void {
    this.topics.deflate = batch.settings.deflate;
    for (let i = 0; i < batch.sockets.length; i++) {
      serveConnection(remadeSocket(batch.sockets[i]!), batch.connectionIds[i]!, batch.settings, this);
    }
  }

  /** The owner has read `count` more of our turns, oldest first. */
  #acknowledged(count: number): void {
    for (let i = 0; i < count; i++) {
      const turn = this.#unacknowledged.shift();
      if (turn === undefined) break;
      this.#bytesInFlight -= turn.bytes;
      for (const forwarder of turn.forwarders) forwarder.batchSettled();
    }
    if (count > 0) this.#updateBackpressure();
  }

  decision(connectionId: number, decision: HandshakeDecision): void {
    const question = this.#decisions.get(connectionId);
    this.#decisions.delete(connectionId);
    question?.resolve(decision);
  }

  httpResponse(connectionId: number, response: Uint8Array): void {
    const question = this.#responses.get(connectionId);
    this.#responses.delete(connectionId);
    question?.resolve(response);
  }

  relayWrite(connectionId: number, bytes: Uint8Array): void {
    this.#relays.get(connectionId)?.write(bytes);
  }

  relayEnd(connectionId: number, ending: RelayEnding): void {
    this.#relays.get(connectionId)?.end(ending);
  }

  relayReading(connectionId: number, reading: boolean): void {
    this.#relays.get(connectionId)?.setReading(reading);
  }

  connectionCommands(connectionId: number, seq: number, calls: unknown[]): void {
    const forwarder = this.#connections.get(connectionId);
    // A connection that has ended: its mirror learns that from its last signals.
    if (forwarder === undefined) return;
    forwarder.receiver.commands(seq, calls);
    writeStatus(this.#statuses, connectionId, this.#statusToReport(forwarder));
  }

  /**
   * The status that goes to the owner, whose socket's `bytesToWrite()` reads it until the next
   * report. It is taken once what is queued is on the socket, so that it counts only what the
   * socket could not take yet; if anything is left, one more report says when it is written,
   * also when nobody listens for `bytesWritten` (which would otherwise be the next report).
   */
  #statusToReport(forwarder: SignalForwarder): WorkerStatus {
    const receiver = forwarder.receiver;
    const id = forwarder.connectionId;
    const queued = receiver.status();
    // Nothing to write, or a report is promised already for when the socket has written it all.
    if (queued.bytesToWrite === 0 || this.#awaitingDrain.has(id)) return queued;
    const written = receiver.writeQueued();
    const status = receiver.status();
    if (status.bytesToWrite > 0) {
      this.#awaitingDrain.add(id);
      void written.then(() => {
        this.#awaitingDrain.delete(id);
        if (!this.#connections.has(id)) return;
        writeStatus(this.#statuses, id, this.#statusToReport(forwarder));
        this.#scheduleSend();
      });
    }
    return status;
  }

  async #flush(connectionId: number): Promise<WorkerStatus> {
    const forwarder = this.#connections.get(connectionId);
    if (forwarder === undefined) return { appliedSeq: 0, bytesToWrite: 0 };
    return forwarder.receiver.flush();
  }

  // ---- to the owner -----------------------------------------------------------------------------

  /** Asks the owner to decide on an upgrade request; the answer comes with a later command batch. */
  decide(connectionId: number, summary: HandshakeSummary): Promise<HandshakeDecision> {
    this.#handshakes.decide(connectionId, summary);
    this.#scheduleSend();
    return new Promise((resolve) => this.#decisions.set(connectionId, { resolve }));
  }

  /** Asks the owner for the whole response to a plain HTTP request. */
  httpRequest(connectionId: number, request: HttpRequest): Promise<Uint8Array> {
    this.#handshakes.httpRequest(connectionId, request);
    this.#scheduleSend();
    return new Promise((resolve) => this.#responses.set(connectionId, { resolve }));
  }

  /**
   * Hands the connection over to the owner's http.Server: `received` and every later byte go to
   * the owner, its writes come back. Its handshake ends (handshakeEnded) when it has closed.
   */
  handOver(connectionId: number, stream: Duplex, received: Uint8Array, request: HttpRequest): void {
    this.#handshakes.handOver(connectionId, { ...request, received });
    this.#scheduleSend();
    const relay = new WorkerHttpRelay(connectionId, stream, this);
    this.#relays.set(connectionId, relay);
    void relay.done.then(() => {
      this.#relays.delete(connectionId);
      this.handshakeEnded(connectionId);
    });
  }

  handshakeDone(connectionId: number, settings: ConnectionSettings, upgraded: UpgradedConnection | null): void {
    if (upgraded !== null) serveUpgraded(upgraded, connectionId, settings, this);
    // A connection handed over ends with its relay (see handOver).
    else if (!this.#relays.has(connectionId)) this.handshakeEnded(connectionId);
  }

  clientData(connectionId: number, bytes: Uint8Array): void {
    this.#handshakes.clientData(connectionId, bytes);
    this.#scheduleSend();
  }

  clientEnded(connectionId: number): void {
    this.#handshakes.clientEnded(connectionId);
    this.#scheduleSend();
  }

  clientFlushed(connectionId: number, bytes: number): void {
    this.#handshakes.clientFlushed(connectionId, bytes);
    this.#scheduleSend();
  }

  handshakeFailed(connectionId: number, failure: HandshakeFailure): void {
    this.#handshakes.failed(connectionId, failure);
    this.#scheduleSend();
  }

  /** A connection that never upgraded is over: the owner forgets it, and so does this end. */
  handshakeEnded(connectionId: number): void {
    this.#decisions.delete(connectionId);
    this.#responses.delete(connectionId);
    this.#handshakes.ended(connectionId);
    this.#scheduleSend();
  }

  markDirty(forwarder: SignalForwarder): void {
    this.#dirty.push(forwarder);
    if (!forwarder.lifecycleOnly) this.#scheduleSend();
    else this.#scheduleLifecycle();
  }

  /** `connectionId`: positive when the owner moved the socket here, and so has a record of it. */
  countedOpened(connection: CountedConnection, connectionId: number): void {
    this.#counted.add(connection);
    const news = this.#turnCountedNews();
    if (connectionId > 0) news.fromOwner.push(connectionId);
    else news.opened++;
    this.#scheduleLifecycle();
  }

  countedEnded(connection: CountedConnection): void {
    if (!this.#counted.delete(connection)) return;
    const news = this.#turnCountedNews();
    news.ended++;
    if (this.#countedClosing.length === 0) {
      this.#scheduleLifecycle();
      return;
    }
    // The owner is waiting in closeAllConnections(): it hears of the ends at once.
    this.#countedClosing = this.#countedClosing.filter(({ requestId, open }) => {
      if (!open.delete(connection) || open.size > 0) return true;
      news.closed.push(requestId);
      return false;
    });
    this.#scheduleSend();
  }

  #closeCounted(requestId: number, code: number, reason: string): void {
    if (this.#counted.size === 0) {
      this.#turnCountedNews().closed.push(requestId);
      this.#scheduleSend();
      return;
    }
    this.#countedClosing.push({ requestId, open: new Set(this.#counted) });
    for (const counted of [...this.#counted]) counted.backend.close(code, reason);
  }

  countedFailed(error: WebSocketError): void {
    this.#turnCountedNews().failures.push(error.toJSON());
    this.#scheduleSend();
  }

  /** This turn's news of the counted connections (taken by #send), made by its first item. */
  #turnCountedNews(): CountedNews {
    return (this.#countedNews ??= { opened: 0, fromOwner: [], ended: 0, failures: [], closed: [] });
  }

  #scheduleLifecycle(): void {
    if (!this.#scheduled) this.#lifecycleTimer ??= setTimeout(this.#sendLifecycle, LifecycleBatchMs);
  }

  readonly #sendLifecycle = (): void => {
    this.#lifecycleTimer = undefined;
    this.#scheduleSend();
  };

  #scheduleSend(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#lifecycleTimer !== undefined) {
      clearTimeout(this.#lifecycleTimer);
      this.#lifecycleTimer = undefined;
    }
    // setImmediate: every read of this poll phase, on every connection, joins the batch.
    setImmediate(this.#send);
  }

  readonly #send = (): void => {
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    const entries: unknown[] = [];
    const transfer: ArrayBuffer[] = [];
    let bytes = 0;
    for (const forwarder of dirty) {
      const taken = forwarder.take();
      writeConnectionSignals(entries, forwarder.connectionId, this.#statusToReport(forwarder), taken.calls);
      for (const buffer of taken.transfer) transfer.push(buffer);
      bytes += taken.bytes;
    }
    const topics = this.topics.take();
    const counted = this.#countedNews;
    if (entries.length === 0 && this.#handshakes.isEmpty && this.#statuses.length === 0 && topics === undefined && counted === undefined) return;
    const statuses = this.#statuses;
    this.#statuses = [];
    this.#countedNews = undefined;
    this.#post({
      kind: 'turn', handshakes: this.#handshakes.take(), entries, statuses,
      ...(topics === undefined ? {} : { topics }),
      ...(counted === undefined ? {} : { counted }),
    }, transfer);
    this.#unacknowledged.push({ bytes, forwarders: dirty });
    this.#bytesInFlight += bytes;
    this.#updateBackpressure();
  };

  #updateBackpressure(): void {
    const behind = this.#unacknowledged.length > MaxBatchesInFlight || this.#bytesInFlight > MaxBytesInFlight;
    if (behind === this.#behind) return;
    this.#behind = behind;
    for (const forwarder of this.#connections.values()) forwarder.receiver.setPaused(PauseReason.OwnerBacklog, behind);
  }
}
