import type { Duplex } from 'node:stream';
import { CloseCode } from '../engine/close-code.ts';
import type { EngineHandler, EngineOptions } from '../engine/engine-types.ts';
import type { CompressedFrames } from '../engine/extension.ts';
import { SocketError, WebSocketError } from '../engine/errors.ts';
import { LivenessVerdict, type LivenessTimeoutName } from '../engine/liveness.ts';
import type { MaskGenerator } from '../engine/mask-generator.ts';
import { PayloadUse } from '../engine/frame-writer.ts';
import { ProtocolEngine } from '../engine/protocol-engine.ts';
import { livenessTicker, type LivenessWatched } from './liveness-ticker.ts';
import { OptionalSignal, type SocketBackend, type SocketLimitName, type SocketSink } from './socket-backend.ts';
import { TurnQueue } from './turn-queue.ts';

export interface EngineSocketBackendOptions {
  /**
   * How long, from the start of the closing handshake, the transport may stay open before it is
   * destroyed: a client waits for the server to end TCP (RFC 6455 7.1.1) and either side waits for
   * the peer's Close. Default 5000 ms: Qt does not wait at all, `ws` waits 30 s; five seconds is
   * long for a live peer and short enough that a dead one does not hold a process open.
   */
  closeTimeoutMs?: number;
  /**
   * Wire bytes queued for a peer that stops reading above which the connection is closed with
   * 1008 (policy violated) and dropped after the close timeout: a peer that reads nothing will
   * never read our Close either, so memory stays bounded instead of growing with every send.
   * Default: no mark (a client's own sends are its own business).
   */
  highWaterMark?: number;
  /**
   * Milliseconds output may wait before it is written, so that the messages of that time share
   * one write: fewer system calls per message (most of a broadcast's cost) for that much more
   * latency. Default 0: written at the end of the turn that made it. flush() writes at once
   * either way.
   */
  writeDelayMs?: number;
}

/** Who else hears how a connection ends (the server's bookkeeping, a worker's lifecycle report). */
export type LifecycleObserver = Partial<Pick<SocketSink, 'error' | 'closing' | 'disconnected'>>;

export const DefaultCloseTimeoutMs = 5000;

/** Written behind a write that did not reach the kernel at once: its callback says when that one has. */
const EmptyChunk = new Uint8Array(0);

/** Several small chunks are cheaper copied into one buffer than handed to writev one by one. */
const ConcatBelowBytes = 16 * 1024;

const OverHighWaterMarkReason = 'Send buffer limit exceeded';

/**
 * How long a protocol error may wait for a listener in another thread to answer the messages
 * that came before it (see `SocketSink.seen`): long enough for a busy owner thread, short enough
 * that a violating peer is not kept.
 */
const HeldFailureMs = 1000;

/** Socket error codes that mean the peer went away rather than the network failing. */
const PeerGoneCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Where a socket's listeners find their backend (ws's kWebSocket). */
const kBackend = Symbol('wsthreads.engineSocketBackend');
type BackendSocket = Duplex & { [kBackend]?: EngineSocketBackend };

/** What a backend's options come to: one frozen object for the backends made with the same. */
interface BackendSettings {
  readonly closeTimeoutMs: number;
  readonly highWaterMark: number;
  /** Where its flushes wait: the end of the turn, or its write delay's queue. */
  readonly flushQueue: TurnQueue<EngineSocketBackend>;
}

/** A backend's yes/no state, as the bits of one number: eleven fields would be 88 bytes a connection. */
const Flag = {
  OverHighWaterMark: 1 << 0,
  /** An empty write is out (#confirm), covering `#confirmingBytes` written before it. */
  Confirming: 1 << 1,
  FlushScheduled: 1 << 2,
  Paused: 1 << 3,
  BytesWrittenScheduled: 1 << 4,
  EngineClosed: 1 << 5,
  TransportGone: 1 << 6,
  Aborted: 1 << 7,
  /** The peer left an automatic Ping unanswered: once our Close is handed to the OS, drop it. */
  DropAfterClose: 1 << 8,
  ReleasingFailure: 1 << 9,
  /** Attached and past the first turn: reads may be delivered. */
  Reading: 1 << 10,
} as const;

/**
 * Runs a ProtocolEngine over a byte stream (a `net.Socket`, a `tls.TLSSocket`, any Duplex), in the
 * thread that builds it, for either role. Hot path: every chunk read goes straight into the engine,
 * and what the engine queues (replies, sends from user code) leaves in one socket write per
 * event-loop turn.
 *
 * The socket must have no 'data' listener when handed over; bytes already read past the opening
 * handshake go in `initialBytes`, and are fed to the engine before anything read later.
 */
export class EngineSocketBackend implements SocketBackend, EngineHandler, LivenessWatched {
  readonly #socket: Duplex;
  readonly #engine: ProtocolEngine;
  readonly #settings: BackendSettings;
  /** The socket's writableLength after our last write to it (0 once that is written). */
  #socketBacklog = 0;
  /** Bytes written to the socket and not yet known to be with the kernel, behind any empty write. */
  #unconfirmed = 0;
  /** Written before the empty write that is out (see Flag.Confirming). */
  #confirmingBytes = 0;
  /** Made for the first write that does not reach the kernel at once. */
  #onConfirmed: ((error?: Error | null) => void) | undefined;
  #observer: LifecycleObserver | undefined;
  #initialBytes: Uint8Array | undefined;
  #sink: SocketSink | undefined;
  /** Wire bytes whose write completed and that the sink has not been told about yet. */
  #writtenUnreported = 0;
  /** Made for the first flush() that has to wait. */
  #flushWaiters: Array<() => void> | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #transportError: WebSocketError | undefined;
  /** Bits of Flag. */
  #flags = 0;
  #optionalSignals = 0;

  // The socket's listeners and the deferred calls: one function for every connection, called
  // with the socket (or the backend) as `this`, like ws's.
  static #onData(this: BackendSocket, chunk: Buffer): void {
    this[kBackend]!.#receive(chunk);
  }

  static #onSocketError(this: BackendSocket, error: NodeJS.ErrnoException): void {
    this[kBackend]!.#socketError(error);
  }

  static #onSocketEnd(this: BackendSocket): void {
    this[kBackend]!.#socketEnded();
  }

  static #onSocketClose(this: BackendSocket): void {
    this[kBackend]!.#socketClosed();
  }

  // The end-of-turn work of every backend of this thread, one immediate for each kind.
  // (Called through an arrow: the compiled class may not read its own private statics while its
  // static fields are still being initialised.)
  static readonly #toFlush = new TurnQueue<EngineSocketBackend>((backend) => EngineSocketBackend.#flushNow(backend));

  /** The flush queues of the write delays in use on this thread (a server has one). */
  static readonly #delayedFlushes = new Map<number, TurnQueue<EngineSocketBackend>>();

  static #flushQueueFor(delayMs: number): TurnQueue<EngineSocketBackend> {
    if (!(delayMs > 0)) return EngineSocketBackend.#toFlush;
    let queue = EngineSocketBackend.#delayedFlushes.get(delayMs);
    if (queue === undefined) {
      queue = new TurnQueue(EngineSocketBackend.#flushNow, delayMs);
      EngineSocketBackend.#delayedFlushes.set(delayMs, queue);
    }
    return queue;
  }

  /** The settings of the backend made last: a server makes all of its backends with the same. */
  static #lastSettings: BackendSettings | undefined;

  static #settingsFor(options: EngineSocketBackendOptions): BackendSettings {
    const closeTimeoutMs = options.closeTimeoutMs ?? DefaultCloseTimeoutMs;
    const highWaterMark = options.highWaterMark ?? Infinity;
    const flushQueue = EngineSocketBackend.#flushQueueFor(options.writeDelayMs ?? 0);
    const last = EngineSocketBackend.#lastSettings;
    if (last !== undefined && last.closeTimeoutMs === closeTimeoutMs && last.highWaterMark === highWaterMark && last.flushQueue === flushQueue) return last;
    return (EngineSocketBackend.#lastSettings = Object.freeze({ closeTimeoutMs, highWaterMark, flushQueue }));
  }

  static #flushNow(backend: EngineSocketBackend): void {
    backend.#lower(Flag.FlushScheduled);
    backend.#writeOutput();
  }

  static readonly #toReport = new TurnQueue<EngineSocketBackend>((backend) => EngineSocketBackend.#reportBytesWritten(backend));

  static readonly #toStart = new TurnQueue<EngineSocketBackend>((backend) => backend.#startReading());

  static #reportBytesWritten(backend: EngineSocketBackend): void {
    backend.#lower(Flag.BytesWrittenScheduled);
    const bytes = backend.#writtenUnreported;
    backend.#writtenUnreported = 0;
    if (bytes > 0 && !backend.#has(Flag.TransportGone) && (backend.#optionalSignals & OptionalSignal.BytesWritten) !== 0) backend.#sink?.bytesWritten(bytes);
  }

  constructor(socket: Duplex, engineOptions: EngineOptions, initialBytes?: Uint8Array, options: EngineSocketBackendOptions = {}) {
    this.#socket = socket;
    this.#settings = EngineSocketBackend.#settingsFor(options);
    this.#initialBytes = initialBytes !== undefined && initialBytes.length > 0 ? initialBytes : undefined;
    this.#engine = new ProtocolEngine(engineOptions, this);
    // The frame callbacks below are there for every backend; they are called once someone listens.
    this.#engine.setFrameSignals(false);
    (socket as BackendSocket)[kBackend] = this;
  }

  #has(flag: number): boolean {
    return (this.#flags & flag) !== 0;
  }

  #raise(flag: number): void {
    this.#flags |= flag;
  }

  #lower(flag: number): void {
    this.#flags &= ~flag;
  }

  /** The engine, for tests and for the owner of this backend (e.g. a worker reporting its close code). */
  get engine(): ProtocolEngine {
    return this.#engine;
  }

  /** `observer` hears error, closing and disconnected before the sink does. Set once, before attach. */
  observeLifecycle(observer: LifecycleObserver): void {
    if (this.#observer !== undefined) throw new Error('EngineSocketBackend.observeLifecycle() called twice');
    this.#observer = observer;
  }

  attach(sink: SocketSink): void {
    if (this.#sink !== undefined) throw new Error('EngineSocketBackend.attach() called twice');
    this.#sink = sink;
    // Listeners in another thread see a message later than the engine finds a protocol error
    // after it: the Close waits for them, so every transport answers that message first.
    this.#engine.holdsFailures = sink.seen !== undefined;
    const socket = this.#socket;
    socket.on('error', EngineSocketBackend.#onSocketError);
    socket.on('end', EngineSocketBackend.#onSocketEnd);
    socket.on('close', EngineSocketBackend.#onSocketClose);
    // Deferred so that whoever attached can add listeners before the first event.
    EngineSocketBackend.#toStart.add(this);
  }

  #startReading(): void {
    // A socket destroyed before attach emits no further 'close': treat it as gone.
    if (this.#socket.destroyed) this.#socketClosed();
    if (this.#has(Flag.TransportGone)) return;
    const socket = this.#socket;
    this.#raise(Flag.Reading);
    socket.on('data', EngineSocketBackend.#onData);
    if (this.#has(Flag.Paused)) {
      socket.pause();
    } else {
      this.#receiveInitialBytes();
      socket.resume();
    }
    this.#watchLiveness();
  }

  sendText(text: string, compress = true): number {
    if (this.#has(Flag.OverHighWaterMark)) return 0;
    const queued = this.#engine.sendText(text, compress);
    this.#queued();
    return queued;
  }

  sendBinary(data: Uint8Array, compress = true, shared = false): number {
    if (this.#has(Flag.OverHighWaterMark)) return 0;
    const queued = this.#engine.sendBinary(data, compress, shared ? PayloadUse.Share : PayloadUse.Copy);
    this.#queued();
    return queued;
  }

  /**
   * Queues a message framed once for many sockets (a publish; see src/shared/pubsub). A
   * subscriber that does not read hits its own high-water mark like any send: it is closed with
   * 1008, and the publish goes on for the others.
   */
  sendBuiltFrames(frames: Uint8Array, compressed?: CompressedFrames): number {
    if (this.#has(Flag.OverHighWaterMark)) return 0;
    const queued = this.#engine.sendBuiltFrames(frames, compressed);
    this.#queued();
    return queued;
  }

  #queued(): void {
    const queued = this.#engine.outputLength;
    if (queued === 0) return;
    this.#scheduleFlush();
    // The socket's backlog as of its last write can only have shrunk since: the exact figure
    // (a getter chain through the stream) is read only when that one comes near the mark.
    const highWaterMark = this.#settings.highWaterMark;
    if (queued + this.#socketBacklog > highWaterMark && this.bytesToWrite() > highWaterMark) this.#closeOverHighWaterMark();
  }

  /** The peer is not reading: close with 1008 now, and drop it if our Close is not read either. */
  #closeOverHighWaterMark(): void {
    this.#raise(Flag.OverHighWaterMark);
    const error = new WebSocketError(SocketError.PolicyViolated,
      `More than ${this.#settings.highWaterMark} bytes queued for a peer that is not reading`, CloseCode.PolicyViolated);
    this.close(CloseCode.PolicyViolated, OverHighWaterMarkReason);
    // Not from inside the caller's send: the signals arrive as events of their own. The socket
    // is Closing from here on, so no further send is accepted anywhere (mirror included).
    queueMicrotask(() => {
      if (this.#has(Flag.TransportGone)) return;
      this.#reportError(error);
      this.#reportClosing();
    });
  }

  ping(payload: Uint8Array): void {
    if (this.#has(Flag.EngineClosed)) return;
    this.#engine.ping(payload);
    this.#scheduleFlush();
  }

  close(code: number, reason: string): void {
    if (this.#has(Flag.EngineClosed) || this.#has(Flag.TransportGone)) return;
    this.#engine.close(code, reason);
    this.#scheduleFlush();
    this.#startCloseTimer();
  }

  abort(): void {
    if (this.#has(Flag.TransportGone)) return;
    this.#raise(Flag.Aborted);
    this.#socket.destroy();
  }

  flush(): Promise<void> {
    this.#writeOutput();
    return this.#allWritten();
  }

  /**
   * Puts what is queued on the socket now, as the end of the turn would, unless a write delay
   * holds it back; resolves once the socket has written all of it (or is gone).
   */
  writeQueued(): Promise<void> {
    if (this.#settings.flushQueue === EngineSocketBackend.#toFlush) this.#writeOutput();
    return this.#allWritten();
  }

  /** Resolves once the engine and the socket hold nothing unwritten (or the transport is gone). */
  #allWritten(): Promise<void> {
    if (this.#has(Flag.TransportGone) || (this.#socket.writableLength === 0 && this.#engine.outputLength === 0)) return Promise.resolve();
    return new Promise((resolve) => (this.#flushWaiters ??= []).push(resolve));
  }

  pause(): void {
    this.#raise(Flag.Paused);
    if (this.#sink !== undefined && !this.#has(Flag.TransportGone)) this.#socket.pause();
  }

  resume(): void {
    this.#lower(Flag.Paused);
    if (this.#sink === undefined || this.#has(Flag.TransportGone)) return;
    // The bytes read with the opening handshake come first; a backend that starts paused (a
    // pending connection nobody has taken) has not delivered them yet.
    if (this.#has(Flag.Reading)) this.#receiveInitialBytes();
    this.#socket.resume();
  }

  #receiveInitialBytes(): void {
    const initial = this.#initialBytes;
    if (initial === undefined) return;
    this.#initialBytes = undefined;
    this.#receive(initial);
  }

  setLimit(name: SocketLimitName, value: number): void {
    this.#engine[name] = value;
  }

  setLivenessTimeout(name: LivenessTimeoutName, ms: number): void {
    this.#engine.setTimeout(name, ms);
    if (this.#sink !== undefined) this.#watchLiveness();
  }

  #watchLiveness(): void {
    if (this.#has(Flag.TransportGone) || this.#has(Flag.EngineClosed)) return;
    livenessTicker.watch(this, this.#engine.livenessCheckIntervalMs);
  }

  /** Called by this thread's liveness tick. */
  checkLiveness(now: number): void {
    const verdict = this.#engine.checkLiveness(now, !this.#has(Flag.Paused));
    if (verdict === LivenessVerdict.Alive) return;
    if (verdict === LivenessVerdict.IdleTimedOut) this.#raise(Flag.DropAfterClose);
    if (this.#engine.outputLength > 0) this.#scheduleFlush();
  }

  bytesToWrite(): number {
    if (this.#has(Flag.TransportGone)) return 0;
    return this.#engine.outputLength + this.#socket.writableLength;
  }

  setFrameSignals(enabled: boolean): void {
    this.#engine.setFrameSignals(enabled);
  }

  setOptionalSignals(signals: number): void {
    this.#optionalSignals = signals;
  }

  setMaskGenerator(generator: MaskGenerator): void {
    this.#engine.maskGenerator = generator;
  }

  // ---- EngineHandler: what the engine reports, passed on to the sink (the engine alone calls
  // these). The backend itself is the handler: an object of its own for it would be 48 bytes a
  // connection.

  textMessage(text: string): void {
    this.#sink?.textMessage(text);
  }

  binaryMessage(data: Uint8Array): void {
    this.#sink?.binaryMessage(data);
  }

  textFrame(text: string, isLast: boolean): void {
    this.#sink?.textFrame(text, isLast);
  }

  binaryFrame(data: Uint8Array, isLast: boolean): void {
    this.#sink?.binaryFrame(data, isLast);
  }

  pong(elapsedMs: number, payload: Uint8Array): void {
    if ((this.#optionalSignals & OptionalSignal.Pong) !== 0) this.#sink?.pong(elapsedMs, payload);
  }

  error(error: WebSocketError): void {
    this.#reportError(error);
  }

  closed(): void {
    this.#onEngineClosed();
  }

  // ---- input -----------------------------------------------------------------------------------

  #receive(chunk: Uint8Array): void {
    this.#engine.receive(chunk);
    if (this.#engine.hasHeldFailure) this.#releaseFailureWhenSeen();
    if (this.#engine.outputLength > 0) this.#scheduleFlush();
  }

  #releaseFailureWhenSeen(): void {
    if (this.#has(Flag.ReleasingFailure)) return;
    const seen = this.#sink?.seen?.();
    if (seen === undefined) {
      this.#engine.releaseFailure();
      return;
    }
    this.#raise(Flag.ReleasingFailure);
    const release = (): void => {
      clearTimeout(timer);
      if (this.#has(Flag.TransportGone)) return;
      this.#engine.releaseFailure();
      if (this.#engine.outputLength > 0) this.#scheduleFlush();
    };
    const timer = setTimeout(release, HeldFailureMs);
    seen.then(release, release);
  }

  /**
   * setImmediate rather than a microtask: every read of one poll phase and every send made from
   * their handlers leave in the same write, where a microtask would write once per read.
   */
  #scheduleFlush(): void {
    if (this.#has(Flag.FlushScheduled)) return;
    this.#raise(Flag.FlushScheduled);
    this.#settings.flushQueue.add(this);
  }

  #writeOutput(): void {
    const total = this.#engine.outputLength;
    if (this.#has(Flag.TransportGone) || total === 0) return;
    const chunks = this.#engine.takeOutput();
    const socket = this.#socket;
    // Dropped, not left queued: a socket that can no longer write has no use for them.
    if (socket.destroyed || socket.writableEnded) return;
    // A peer that is behind holds what is written to it until it reads: small output goes to
    // it copied, so that it keeps its own bytes and not the slabs other sockets' frames share.
    if (chunks.length === 1 && (total > ConcatBelowBytes || this.#socketBacklog === 0)) {
      socket.write(chunks[0]);
    } else if (total <= ConcatBelowBytes) {
      socket.write(Buffer.concat(chunks, total));
    } else {
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    }
    // Most writes reach the kernel at once: then they are done now, with no callback (and no
    // closure) per write. Otherwise an empty write behind them calls back once they are done.
    this.#unconfirmed += total;
    this.#settle(0);
  }

  /**
   * `done` bytes have reached the kernel; the socket's backlog says whether the writes not yet
   * known done have too, or need an empty write behind them.
   */
  #settle(done: number): void {
    const backlog = this.#socket.writableLength;
    this.#socketBacklog = backlog;
    if (backlog > 0) {
      this.#countWritten(done);
      if (this.#unconfirmed > 0 && !this.#has(Flag.Confirming)) this.#confirm();
      return;
    }
    this.#countWritten(done + this.#unconfirmed);
    this.#unconfirmed = 0;
    this.#engine.outputDrained();
    this.#releaseFlushWaiters();
  }

  /**
   * One empty write at a time, behind the writes not yet known done: a peer that reads nothing
   * holds one per connection, not one per turn that wrote to it.
   */
  #confirm(): void {
    this.#raise(Flag.Confirming);
    this.#confirmingBytes = this.#unconfirmed;
    this.#unconfirmed = 0;
    this.#socket.write(EmptyChunk, (this.#onConfirmed ??= (error) => this.#confirmed(error)));
  }

  #confirmed(error: Error | null | undefined): void {
    this.#lower(Flag.Confirming);
    if (error) return;
    const bytes = this.#confirmingBytes;
    this.#confirmingBytes = 0;
    this.#settle(bytes);
  }

  /** For the `bytesWritten` report at the end of the turn, while someone listens. */
  #countWritten(bytes: number): void {
    if (bytes === 0 || (this.#optionalSignals & OptionalSignal.BytesWritten) === 0) return;
    this.#writtenUnreported += bytes;
    if (!this.#has(Flag.BytesWrittenScheduled)) {
      this.#raise(Flag.BytesWrittenScheduled);
      EngineSocketBackend.#toReport.add(this);
    }
  }

  #releaseFlushWaiters(): void {
    const waiters = this.#flushWaiters;
    if (waiters === undefined || waiters.length === 0) return;
    this.#flushWaiters = undefined;
    for (const resolve of waiters) resolve();
  }

  #reportError(error: WebSocketError): void {
    this.#observer?.error?.(error);
    this.#sink?.error(error);
  }

  #reportClosing(): void {
    this.#observer?.closing?.();
    this.#sink?.closing();
  }

  #onEngineClosed(): void {
    if (this.#has(Flag.EngineClosed)) return;
    this.#raise(Flag.EngineClosed);
    livenessTicker.unwatch(this);
    if (this.#has(Flag.TransportGone)) return;
    this.#reportClosing();
    // Leave the engine's call stack before touching the socket: closed() may fire inside receive().
    queueMicrotask(() => {
      this.#writeOutput();
      if (this.#has(Flag.TransportGone)) return;
      // The server ends TCP first; a client waits for it (bounded by the close timer).
      if (this.#engine.endsTransport || this.#has(Flag.DropAfterClose)) this.#socket.end();
      // A peer that answered nothing for the idle and pong timeouts will not answer our Close:
      // drop it as soon as the Close is handed to the OS (which still sends it).
      if (this.#has(Flag.DropAfterClose)) this.#socket.once('finish', () => this.#socket.destroy());
      this.#startCloseTimer();
    });
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#has(Flag.TransportGone)) return;
    // Unref'd: the socket itself keeps the process alive while it is open.
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#settings.closeTimeoutMs).unref();
  }

  #socketError(error: NodeJS.ErrnoException): void {
    if (this.#has(Flag.EngineClosed) || this.#has(Flag.Aborted) || this.#transportError !== undefined) return;
    const kind = error.code !== undefined && PeerGoneCodes.has(error.code) ? SocketError.RemoteHostClosed
      : error.code === 'ETIMEDOUT' ? SocketError.SocketTimeout
      : SocketError.Network;
    this.#transportError = new WebSocketError(kind, error.message, CloseCode.AbnormalDisconnection);
  }

  /**
   * The peer ended its side. A WebSocket has no use for a half-open connection, and sockets from an
   * `http.Server` allow one, so end ours too (after what the engine still has to say) rather than
   * wait for the close timer.
   */
  #socketEnded(): void {
    this.#sink?.readChannelFinished();
    this.#writeOutput();
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  #socketClosed(): void {
    if (this.#has(Flag.TransportGone)) return;
    this.#raise(Flag.TransportGone);
    livenessTicker.unwatch(this);
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#socket.off('data', EngineSocketBackend.#onData);
    if (!this.#has(Flag.EngineClosed)) {
      if (!this.#has(Flag.Aborted)) {
        this.#reportError(this.#transportError
          ?? new WebSocketError(SocketError.RemoteHostClosed, 'The remote host closed the connection without a closing handshake', CloseCode.AbnormalDisconnection));
      }
      this.#engine.connectionLost();
    }
    this.#engine.takeOutput();
    this.#releaseFlushWaiters();
    // The engine knows how the connection ended (RFC 6455 7.1.5; 1006 without a Close). Our own
    // 1008 is why it ended, even when the peer never answered it.
    const engine = this.#engine;
    const overLimit = this.#has(Flag.OverHighWaterMark) && engine.closeCode === CloseCode.AbnormalDisconnection;
    const code = overLimit ? CloseCode.PolicyViolated : engine.closeCode;
    const reason = overLimit ? OverHighWaterMarkReason : engine.closeReason;
    this.#observer?.disconnected?.(code, reason);
    this.#sink?.disconnected(code, reason);
  }
}
