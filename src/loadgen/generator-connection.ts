/**
 * One load-generating connection: a net.Socket (or TLS socket) driven straight through our client
 * handshake and ProtocolEngine, without the WebSocket class, so that the generator spends its
 * time on the protocol and not on events it does not need. Replies are matched in order against
 * the connection's in-flight queue; whatever the engine queued while handling one read (or one
 * scheduler tick) goes out as one corked write.
 */
import net from 'node:net';
import tls from 'node:tls';
import { buildClientRequest, ClientHandshakeParser } from '../shared/engine/client-handshake.ts';
import { ProtocolEngine } from '../shared/engine/protocol-engine.ts';
import { CloseCode } from '../shared/engine/close-code.ts';
import { Defaults } from '../shared/engine/limits.ts';
import { Role } from '../shared/engine/state.ts';
import type { EngineHandler } from '../shared/engine/engine-types.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';
import type { ClientTarget } from '../shared/connection/client-url.ts';
import { isIpLiteral } from '../shared/connection/client-url.ts';
import { BenchErrorKind } from './generator-protocol.ts';
import type { GeneratorStats } from './generator-stats.ts';
import { InFlightQueue } from './in-flight-queue.ts';
import type { Payload, PayloadCodec } from './payload.ts';

/** How long we wait for the server to end TCP after the closing handshake before destroying. */
const CLOSE_LINGER_MS = 2000;

/** What a connection needs from the generator that runs it. */
export interface ConnectionContext {
  readonly stats: GeneratorStats;
  readonly codec: PayloadCodec;
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

export class BenchConnection implements EngineHandler {
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
      : net.connect({ host: target.host, port: target.port, noDelay: true });
    this.socket.once(target.secure ? 'secureConnect' : 'connect', () => this.sendHandshake());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
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
    return this.socket.writableLength + (this.engine?.outputLength ?? 0);
  }

  /** Queues message `nextSeq`; latency will be measured from `fromMicros`. The caller flushes. */
  send(fromMicros: number): void {
    const engine = this.engine!;
    const seq = this.nextSeq++;
    const payload = this.ctx.codec.build(this.id, seq, fromMicros);
    if (typeof payload === 'string') engine.sendText(payload);
    else engine.sendBinary(payload);
    this.inFlight.push(fromMicros);
    const stats = this.ctx.stats;
    stats.sent++;
    if (stats.firstSendEpochMs === 0) stats.firstSendEpochMs = performance.timeOrigin + fromMicros / 1000;
    // Without a quota this leaves Infinity as it is.
    this.quota--;
  }

  /** Writes everything the engine queued, as one corked write. */
  flush(): void {
    this.dirty = false;
    const engine = this.engine;
    if (engine === undefined || engine.outputLength === 0 || this.socket.destroyed) return;
    const chunks = engine.takeOutput();
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
    this.ctx.stats.bytesSent += bytes;
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
    const result = parser.feed(chunk);
    if (result.kind === 'failed') {
      this.fail(`handshake failed: ${result.error.message}`);
      return;
    }
    if (result.kind !== 'accepted') return;
    clearTimeout(this.handshakeTimer);
    this.parser = undefined;
    const stats = this.ctx.stats;
    stats.recordHandshake((performance.now() - this.connectStartedMs) * 1000);
    stats.connectionsOpened++;
    stats.openConnections++;
    this.engine = new ProtocolEngine({ role: Role.Client }, this);
    this.phase = ConnectionPhase.Open;
    this.ctx.onOpen(this);
    if (result.rest.byteLength > 0 && this.phase === ConnectionPhase.Open) {
      this.nowMicros = performance.now() * 1000;
      this.engine.receive(result.rest);
    }
    this.flush();
  }

  private fail(message: string): void {
    if (this.phase !== ConnectionPhase.Connecting) return;
    this.ctx.stats.connectionsFailed++;
    this.ctx.stats.recordError(BenchErrorKind.ConnectFailed, `connection ${this.id}: ${message}`);
    this.phase = ConnectionPhase.Closing;
    this.weClosed = true;
    this.socket.destroy();
  }

  // ---- socket events ----------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.ctx.stats.bytesReceived += chunk.byteLength;
    if (this.engine === undefined) {
      this.onHandshakeData(chunk);
      return;
    }
    this.nowMicros = performance.now() * 1000;
    this.engine.receive(chunk);
    this.flush();
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

  private reply(payload: Payload): void {
    const stats = this.ctx.stats;
    stats.received++;
    stats.lastReplyEpochMs = performance.timeOrigin + this.nowMicros / 1000;
    const inFlight = this.inFlight;
    if (inFlight.length === 0) {
      stats.recordError(BenchErrorKind.Mismatch, `connection ${this.id}: a message with no request awaiting it`);
      return;
    }
    const seq = inFlight.headSeq;
    const result = this.ctx.codec.check(payload, this.id, seq, inFlight.shift());
    if (result.ok) stats.recordRoundTrip(this.nowMicros - result.sendMicros);
    else stats.recordError(BenchErrorKind.Mismatch, `connection ${this.id} message ${seq}: ${result.reason}`);
    if (this.phase === ConnectionPhase.Open) this.ctx.onReply(this);
  }

  textMessage(text: string): void {
    this.reply(text);
  }

  binaryMessage(data: Uint8Array): void {
    this.reply(data);
  }

  pong(): void {}

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
