/**
 * One load-generating connection: a net.Socket (or TLS socket) driven straight through our client
 * handshake, without the WebSocket class, so that the generator spends its time on the protocol
 * and not on events it does not need. Data frames go out through MaskedFrameOutput and replies
 * come in through DataFrameReader, both without an allocation per message; the ProtocolEngine
 * handles everything else (Close, Ping, fragments, and any stream those readers hand it).
 * Replies are matched in order against the connection's in-flight queue; whatever was queued
 * while handling one read (or one scheduler tick) goes out as one write.
 */
import net from 'node:net';
import tls from 'node:tls';
import { buildClientRequest, ClientHandshakeParser } from '../shared/engine/client-handshake.ts';
import { ProtocolEngine } from '../shared/engine/protocol-engine.ts';
import { CloseCode } from '../shared/engine/close-code.ts';
import { Defaults } from '../shared/engine/limits.ts';
import { Role } from '../shared/engine/state.ts';
import type { EngineHandler } from '../shared/engine/engine-types.ts';
import type { MaskGenerator } from '../shared/engine/mask-generator.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';
import type { ClientTarget } from '../shared/connection/client-url.ts';
import { isIpLiteral } from '../shared/connection/client-url.ts';
import { BenchErrorKind } from './generator-protocol.ts';
import type { GeneratorStats } from './generator-stats.ts';
import { DataFrameReader } from './data-frame-reader.ts';
import type { DataFrameSink } from './data-frame-reader.ts';
import { InFlightQueue } from './in-flight-queue.ts';
import { MaskedFrameOutput, maskedHeaderSize } from './masked-frame-output.ts';
import type { PayloadCodec } from './payload.ts';

/** Read once: performance.timeOrigin is a getter. */
const TIME_ORIGIN = performance.timeOrigin;
/**
 * Every plain-TCP connection of the thread reads into this one buffer (net's `onread`): each
 * read is handled to the end before the next, so no buffer is made per read. Whatever must
 * outlive a read (a cut frame, what the engine or the handshake parser keeps) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** How long we wait for the server to end TCP after the closing handshake before destroying. */
const CLOSE_LINGER_MS = 2000;

/** What a connection needs from the generator that runs it. */
export interface ConnectionContext {
  readonly stats: GeneratorStats;
  readonly codec: PayloadCodec;
  /** Masking keys for every connection of the thread. */
  readonly maskGenerator: MaskGenerator;
  readonly target: ClientTarget;
  readonly timeoutMs: number;
  readonly subprotocols: string[];
  readonly origin: string | undefined;
  /** The handshake succeeded; the connection may send. */
  onOpen(connection: BenchConnection): void;
  /** A reply was matched (or rejected): the closed model sends the next message here. */
  onReply(connection: BenchConnection): void;
  /** The connection is over (closed, failed, or lost); called once. */
  onEnded(connection: BenchConnection): void;
}

export const ConnectionPhase = {
  Connecting: 0,
  Open: 1,
  Closing: 2,
  Ended: 3,
} as const;
export type ConnectionPhase = (typeof ConnectionPhase)[keyof typeof ConnectionPhase];

export class BenchConnection implements EngineHandler, DataFrameSink {
  readonly id: number;
  phase: ConnectionPhase = ConnectionPhase.Connecting;
  readonly inFlight: InFlightQueue;
  /** Messages this connection may still send (closed model with -n); Infinity otherwise. */
  quota = Number.POSITIVE_INFINITY;
  /** Set by the generator when it queued messages during a tick and must flush. */
  dirty = false;

  private readonly ctx: ConnectionContext;
  private readonly socket: net.Socket;
  private engine: ProtocolEngine | undefined;
  private readonly output: MaskedFrameOutput;
  private readonly reader = new DataFrameReader();
  /** Set once the reader met a frame it does not take: the engine reads from then on. */
  private viaEngine = false;
  /** Reused by flush(). */
  private readonly chunks: Uint8Array[] = [];
  private parser: ClientHandshakeParser | undefined;
  private readonly connectStartedMs: number;
  private nextSeq = 0;
  /** The clock reading for the read being processed (µs): one reading serves every reply in it. */
  private nowMicros = 0;
  private weClosed = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly onWritten = (): void => {
    if (this.socket.writableLength === 0) this.engine?.outputDrained();
  };

  constructor(id: number, ctx: ConnectionContext, inFlightCapacity: number) {
    this.id = id;
    this.ctx = ctx;
    this.inFlight = new InFlightQueue(inFlightCapacity);
    const frameBytes = maskedHeaderSize(ctx.codec.lengthOf(id, 0)) + ctx.codec.lengthOf(id, 0);
    this.output = new MaskedFrameOutput(frameBytes * inFlightCapacity);
    this.connectStartedMs = performance.now();
    ctx.stats.connectionsAttempted++;
    const { target } = ctx;
    this.socket = target.secure
      ? tls.connect({
          host: target.host,
          port: target.port,
          servername: isIpLiteral(target.host) ? undefined : target.host,
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({
          host: target.host,
          port: target.port,
          noDelay: true,
          onread: {
            buffer: READ_BUFFER,
            callback: (length: number): boolean => {
              this.onData(READ_BUFFER, length);
              return true;
            },
          },
        });
    this.socket.once(target.secure ? 'secureConnect' : 'connect', () => this.sendHandshake());
    if (target.secure) this.socket.on('data', (chunk: Buffer) => this.onData(chunk, chunk.length));
    this.socket.on('error', (error: Error) => this.onSocketError(error));
    this.socket.on('close', () => this.onSocketClosed());
    this.handshakeTimer = setTimeout(() => {
      this.fail(`no handshake within ${ctx.timeoutMs} ms`);
    }, ctx.timeoutMs);
  }

  get isOpen(): boolean {
    return this.phase === ConnectionPhase.Open;
  }

  /** Bytes handed to the socket and not yet written: the generator skips connections that back up. */
  get backlog(): number {
    return this.socket.writableLength + this.output.queued + (this.engine?.outputLength ?? 0);
  }

  /** Queues message `nextSeq`; latency will be measured from `fromMicros`. The caller flushes. */
  send(fromMicros: number): void {
    const seq = this.nextSeq++;
    const micros = Math.round(fromMicros);
    const ctx = this.ctx;
    this.output.writeMessage(ctx.codec, this.id, seq, micros, ctx.maskGenerator);
    this.inFlight.push(micros);
    const stats = ctx.stats;
    stats.sent++;
    if (stats.firstSendEpochMs === 0) stats.firstSendEpochMs = TIME_ORIGIN + micros / 1000;
    // Without a quota this leaves Infinity as it is.
    this.quota--;
  }

  /** Writes every data frame queued, then whatever the engine queued: one write, corked if several chunks. */
  flush(): void {
    this.dirty = false;
    const engine = this.engine;
    if (engine === undefined || this.socket.destroyed) return;
    const chunks = this.chunks;
    if (this.output.queued > 0) this.output.take(chunks);
    if (engine.outputLength > 0) for (const chunk of engine.takeOutput()) chunks.push(chunk);
    if (chunks.length === 0) return;
    let bytes = 0;
    if (chunks.length === 1) {
      bytes = chunks[0]!.byteLength;
      this.socket.write(chunks[0]!, this.onWritten);
    } else {
      this.socket.cork();
      for (let i = 0; i < chunks.length; i++) {
        bytes += chunks[i]!.byteLength;
        if (i === chunks.length - 1) this.socket.write(chunks[i]!, this.onWritten);
        else this.socket.write(chunks[i]!);
      }
      this.socket.uncork();
    }
    chunks.length = 0;
    this.ctx.stats.bytesSent += bytes;
    // Written through to the kernel already: the slab's bytes are free to be written over.
    if (this.socket.writableLength === 0) this.output.recycle();
  }

  /** Sends a Ping (hold mode); its Pong's round trip is recorded as a reply's. */
  ping(): void {
    if (this.phase !== ConnectionPhase.Open) return;
    this.engine!.ping();
    this.ctx.stats.sent++;
    this.flush();
  }

  /** Ends the connection normally: Close 1000, then wait (bounded) for the server to end TCP. */
  close(): void {
    if (this.phase === ConnectionPhase.Connecting) {
      this.weClosed = true;
      this.phase = ConnectionPhase.Closing;
      this.socket.destroy();
      return;
    }
    if (this.phase !== ConnectionPhase.Open) return;
    this.weClosed = true;
    this.phase = ConnectionPhase.Closing;
    this.engine!.close(CloseCode.Normal);
    this.flush();
    this.linger();
  }

  /** Gives up on the replies still awaited: each counts as a timeout; then closes. */
  timeOut(): void {
    const lost = this.inFlight.clear();
    if (lost > 0) this.ctx.stats.recordError(BenchErrorKind.Timeout, `connection ${this.id}: ${lost} replies missing after ${this.ctx.timeoutMs} ms`, lost);
    this.close();
  }

  // ---- handshake --------------------------------------------------------------------------

  private sendHandshake(): void {
    const { target } = this.ctx;
    const headers: Record<string, string> = {};
    if (target.username !== '' || target.password !== '') {
      headers['Authorization'] = 'Basic ' + Buffer.from(`${target.username}:${target.password}`).toString('base64');
    }
    const request = buildClientRequest({
      host: target.hostHeader,
      resourceName: target.resourceName,
      origin: this.ctx.origin,
      subprotocols: this.ctx.subprotocols,
      headers,
    });
    this.parser = new ClientHandshakeParser({
      key: request.key,
      subprotocols: this.ctx.subprotocols,
      extensions: [],
      maxHeaderSize: Defaults.maxHandshakeHeaderSize,
    });
    this.socket.write(request.bytes);
  }

  private onHandshakeData(chunk: Buffer): void {
    const parser = this.parser;
    if (parser === undefined) {
      this.fail('the server sent data before the handshake request');
      return;
    }
    const result = parser.feed(Buffer.from(chunk));
    if (result.kind === 'failed') {
      this.fail(`handshake failed: ${result.error.message}`);
      return;
    }
    if (result.kind !== 'accepted') return;
    clearTimeout(this.handshakeTimer);
    this.parser = undefined;
    const stats = this.ctx.stats;
    stats.recordHandshake((performance.now() - this.connectStartedMs) * 1000);
    this.engine = new ProtocolEngine({ role: Role.Client }, this);
    this.phase = ConnectionPhase.Open;
    this.ctx.onOpen(this);
    const rest = result.rest;
    if (rest.byteLength > 0 && this.phase === ConnectionPhase.Open) this.read(Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength), rest.byteLength);
    this.flush();
  }

  private fail(message: string): void {
    if (this.phase !== ConnectionPhase.Connecting) return;
    this.ctx.stats.recordConnectFailure();
    this.ctx.stats.recordError(BenchErrorKind.ConnectFailed, `connection ${this.id}: ${message}`);
    this.phase = ConnectionPhase.Closing;
    this.weClosed = true;
    this.socket.destroy();
  }

  // ---- socket events ----------------------------------------------------------------------

  /** `chunk[0, length)` was read (it may be the shared read buffer). */
  private onData(chunk: Buffer, length: number): void {
    this.ctx.stats.bytesReceived += length;
    if (this.engine === undefined) {
      this.onHandshakeData(chunk.subarray(0, length));
      return;
    }
    this.read(chunk, length);
    this.flush();
  }

  private read(chunk: Buffer, length: number): void {
    this.nowMicros = performance.now() * 1000;
    if (this.viaEngine) {
      this.engine!.receive(Buffer.from(chunk.subarray(0, length)));
      return;
    }
    const rest = this.reader.feed(chunk, length, this);
    if (rest === undefined) return;
    this.viaEngine = true;
    this.engine!.receive(Buffer.from(rest));
  }

  private onSocketError(error: Error): void {
    if (this.phase === ConnectionPhase.Connecting) this.fail(error.message);
    // Otherwise 'close' follows and reports the loss.
  }

  private onSocketClosed(): void {
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.lingerTimer);
    if (this.phase === ConnectionPhase.Connecting) this.fail('the server closed the connection during the handshake');
    if (this.engine !== undefined) this.engine.connectionLost();
    if (this.phase === ConnectionPhase.Ended) return;
    this.phase = ConnectionPhase.Ended;
    this.ctx.onEnded(this);
  }

  private linger(): void {
    if (this.lingerTimer !== undefined) return;
    this.lingerTimer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
  }

  // ---- engine events ----------------------------------------------------------------------

  /** A reply, as the reader found it in the read buffer (or the engine decoded it). */
  dataFrame(source: Buffer, start: number, end: number, text: boolean): void {
    const ctx = this.ctx;
    const stats = ctx.stats;
    stats.received++;
    stats.lastReplyEpochMs = TIME_ORIGIN + this.nowMicros / 1000;
    const inFlight = this.inFlight;
    if (inFlight.length === 0) {
      stats.recordError(BenchErrorKind.Mismatch, `connection ${this.id}: a message with no request awaiting it`);
      return;
    }
    const seq = inFlight.headSeq;
    const sendMicros = inFlight.shift();
    const wrong = ctx.codec.check(source, start, end, text, this.id, seq, sendMicros);
    if (wrong === undefined) stats.recordRoundTrip(this.nowMicros - sendMicros);
    else stats.recordError(BenchErrorKind.Mismatch, `connection ${this.id} message ${seq}: ${wrong}`);
    if (this.phase === ConnectionPhase.Open) ctx.onReply(this);
  }

  textMessage(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    this.dataFrame(bytes, 0, bytes.length, true);
  }

  binaryMessage(data: Uint8Array): void {
    this.dataFrame(Buffer.from(data.buffer, data.byteOffset, data.byteLength), 0, data.byteLength, false);
  }

  pong(elapsedMs: number): void {
    const stats = this.ctx.stats;
    stats.received++;
    stats.lastReplyEpochMs = TIME_ORIGIN + this.nowMicros / 1000;
    stats.recordRoundTrip(elapsedMs * 1000);
  }

  error(error: WebSocketError): void {
    this.ctx.stats.recordError(BenchErrorKind.ProtocolError, `connection ${this.id}: ${error.message}`);
  }

  closed(code: number): void {
    const stats = this.ctx.stats;
    stats.recordCloseCode(code);
    stats.openConnections--;
    if (!this.weClosed) {
      stats.recordError(BenchErrorKind.UnexpectedClose, `connection ${this.id}: closed by the server with ${code}`);
      this.inFlight.clear();
    }
    if (this.phase === ConnectionPhase.Open) this.phase = ConnectionPhase.Closing;
    this.weClosed = true;
    // Whatever the engine queued (its answering Close) goes out; the server ends TCP.
    this.flush();
    if (code === CloseCode.AbnormalDisconnection) this.socket.destroy();
    else this.linger();
  }
}
