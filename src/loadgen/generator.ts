/**
 * One generator thread's run: opens its shard of the connections (all at once, or ramped by
 * --connect-rate), drives them in the closed model (-p messages in flight per connection) or the
 * open model (-R messages per second, see open-model-schedule.ts), posts one bin of figures per
 * second of the shared run clock, and at the end drains replies, closes every connection with
 * 1000 and returns its totals.
 *
 * The connection modes reuse the same connections: a storm keeps its target of clients each
 * opening, handshaking, optionally sending one message, closing, and starting over; a hold opens
 * its target of connections and keeps them, pinging when asked. With --stages the target moves
 * (stage-schedule.ts) and is re-read every STAGE_TICK_MS.
 */
import { parseClientUrl } from '../shared/connection/client-url.ts';
import { DefaultMaskGenerator } from '../shared/engine/mask-generator.ts';
import { BenchConnection, ConnectionPhase } from './generator-connection.ts';
import type { ConnectionContext } from './generator-connection.ts';
import type { GeneratorBin, GeneratorResult, GeneratorShard } from './generator-protocol.ts';
import { GeneratorStats } from './generator-stats.ts';
import { dueCount, intendedTime, latencyOrigin, messagesBefore, shareOf } from './open-model-schedule.ts';
import { createPayloadCodec } from './payload.ts';
import { BenchMode } from './generator-protocol.ts';
import { targetAt } from './stage-schedule.ts';
import type { PayloadCodec } from './payload.ts';
import type { ClientTarget } from '../shared/connection/client-url.ts';

/** Connections in their TCP/handshake phase at once when no --connect-rate ramps them. */
const MAX_PENDING_CONNECTS = 256;
/** The open model skips a connection whose unwritten bytes exceed this (the server is not reading). */
const MAX_CONNECTION_BACKLOG = 4 * 1024 * 1024;
/** Most messages one scheduler tick sends, so that replies get read between bursts of catching up. */
const MAX_SENDS_PER_TICK = 20_000;
/**
 * The open model sends a message up to this much before it is due, to absorb the granularity of
 * the thread's timers (setTimeout wakes about 1 ms late); see tick().
 */
const LOOKAHEAD_MS = 1;
/** After the drain, how long closing handshakes may take before sockets are destroyed. */
const CLOSE_GRACE_MS = 3000;
/** How often storm and hold re-read their target (the stages' resolution). */
const STAGE_TICK_MS = 20;

export class Generator implements ConnectionContext {
  readonly stats = new GeneratorStats();
  readonly codec: PayloadCodec;
  readonly maskGenerator = new DefaultMaskGenerator();
  readonly target: ClientTarget;
  readonly timeoutMs: number;
  readonly subprotocols: string[];
  readonly origin: string | undefined;

  private readonly shard: GeneratorShard;
  private readonly postBin: (bin: GeneratorBin) => void;
  private runStart = 0;
  private deadline = Number.POSITIVE_INFINITY;
  private readonly connections = new Set<BenchConnection>();
  private readonly open: BenchConnection[] = [];
  /** Connections started so far (opened or not). */
  private launched = 0;
  private started = false;
  private stopBeforeStart = false;
  /** Connections still in their TCP/handshake phase. */
  private readonly connecting = new Set<BenchConnection>();
  private stopping = false;
  private binsPosted = 0;
  private second = 0;
  private scheduleStart = Number.NaN;
  private scheduled = 0;
  private roundRobin = 0;
  private readonly dirty: BenchConnection[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private finish: ((result: GeneratorResult) => void) | undefined;
  private finished = false;

  constructor(shard: GeneratorShard, postBin: (bin: GeneratorBin) => void) {
    this.shard = shard;
    this.postBin = postBin;
    this.codec = createPayloadCodec(shard.payload);
    this.target = parseClientUrl(shard.url);
    this.timeoutMs = shard.timeoutMs;
    this.subprotocols = shard.subprotocols;
    this.origin = shard.origin;
  }

  /**
   * Runs the shard. Every thread counts bins and the deadline from the same wall-clock start
   * (epoch ms), converted to its own monotonic clock.
   */
  run(runStartEpochMs: number): Promise<GeneratorResult> {
    const done = new Promise<GeneratorResult>((resolve) => (this.finish = resolve));
    this.started = true;
    if (this.stopBeforeStart) {
      this.complete();
      return done;
    }
    this.runStart = runStartEpochMs - performance.timeOrigin;
    if (this.shard.durationMs !== undefined) this.deadline = this.runStart + this.shard.durationMs;
    this.second = Math.max(0, Math.floor((performance.now() - this.runStart) / 1000));
    this.scheduleBin();
    if (this.deadline !== Number.POSITIVE_INFINITY) this.after(this.deadline - performance.now(), () => this.beginStop());
    this.every(Math.max(10, Math.min(100, this.timeoutMs / 4)), () => this.checkTimeouts());
    if (this.shard.mode === BenchMode.Storm || this.shard.stages !== undefined) {
      this.adjustConnections();
      this.every(STAGE_TICK_MS, () => this.adjustConnections());
    } else if (this.shard.connections === 0) this.complete();
    else this.startConnections();
    if (this.shard.pingIntervalMs !== undefined) this.every(this.shard.pingIntervalMs, () => this.pingAll());
    return done;
  }

  /** The runner asked us to stop early (Ctrl-C): drain and close as at the deadline. */
  stop(): void {
    if (this.started) this.beginStop();
    else this.stopBeforeStart = true;
  }

  // ---- connections ------------------------------------------------------------------------

  private startConnections(): void {
    const rate = this.shard.connectRate;
    if (rate === undefined) {
      while (this.launched < this.shard.connections && this.connecting.size < MAX_PENDING_CONNECTS) this.startOne();
      return;
    }
    const tick = (): void => {
      if (this.stopping) return;
      const due = Math.min(this.shard.connections, Math.floor(((performance.now() - this.runStart) * rate) / 1000) + 1);
      while (this.launched < due) this.startOne();
      if (this.launched < this.shard.connections) {
        this.after(intendedTime(this.runStart, rate, this.launched) - performance.now(), tick);
      }
    };
    tick();
  }

  /** Storm and hold: this thread's share of the target now. */
  private targetNow(): number {
    const { stages, threads, thread, connections } = this.shard;
    if (stages === undefined) return connections;
    return shareOf(targetAt(stages, performance.now() - this.runStart), threads, thread);
  }

  /** Storm and hold: starts connections up to the target; a hold closes its newest above it. */
  private adjustConnections(): void {
    if (this.stopping || this.finished) return;
    const target = this.targetNow();
    while (this.connecting.size + this.open.length < target) this.startOne();
    while (this.shard.mode === BenchMode.Hold && this.open.length > 0 && this.connecting.size + this.open.length > target) {
      this.open.pop()!.close();
    }
  }

  private pingAll(): void {
    if (this.stopping) return;
    for (const connection of this.open) connection.ping();
  }

  private startOne(): void {
    const index = this.launched++;
    const inFlightCapacity = this.shard.rate === undefined ? this.shard.pipeline : 16;
    const connection = new BenchConnection(this.shard.thread + this.shard.threads * index, this, inFlightCapacity);
    if (this.shard.rate === undefined && this.shard.messages !== undefined) {
      connection.quota = shareOf(this.shard.messages, this.shard.connections, index);
    }
    this.connections.add(connection);
    this.connecting.add(connection);
  }

  onOpen(connection: BenchConnection): void {
    this.connectSettled(connection);
    const mode = this.shard.mode;
    if (mode === BenchMode.Storm) {
      // Even at the end a storm's connection completes its cycle: each opened sends its message.
      if (this.shard.oneMessage) connection.send(performance.now() * 1000);
      else connection.close();
      return;
    }
    if (this.stopping || connection.quota === 0) {
      connection.close();
      return;
    }
    if (mode === BenchMode.Hold) {
      this.open.push(connection);
      return;
    }
    if (this.shard.rate === undefined) {
      const burst = Math.min(this.shard.pipeline, connection.quota);
      const now = performance.now() * 1000;
      for (let i = 0; i < burst; i++) connection.send(now);
      // The connection flushes after onOpen returns.
      return;
    }
    this.open.push(connection);
    if (Number.isNaN(this.scheduleStart)) {
      this.scheduleStart = performance.now();
      this.tick();
    }
  }

  onReply(connection: BenchConnection): void {
    if (this.shard.mode === BenchMode.Storm) {
      connection.close();
      return;
    }
    if (this.shard.rate !== undefined) {
      if (this.stopping && connection.inFlight.length === 0) connection.close();
      return;
    }
    if (!this.stopping && connection.quota > 0) {
      if (connection.inFlight.length < this.shard.pipeline) connection.send(performance.now() * 1000);
      return;
    }
    if (connection.inFlight.length === 0) connection.close();
  }

  onEnded(connection: BenchConnection): void {
    if (!this.connections.delete(connection)) return;
    this.connectSettled(connection);
    const at = this.open.indexOf(connection);
    if (at >= 0) this.open.splice(at, 1);
    if (this.shard.mode === BenchMode.Storm) this.adjustConnections();
    const launchedAll = this.shard.mode === BenchMode.Echo && this.launched === this.shard.connections;
    if (this.connections.size === 0 && (this.stopping || launchedAll)) this.complete();
  }

  /** A connection left its connecting phase (opened or failed): another may start (no ramp). */
  private connectSettled(connection: BenchConnection): void {
    if (!this.connecting.delete(connection)) return;
    const ramped = this.shard.connectRate !== undefined || this.shard.stages !== undefined || this.shard.mode === BenchMode.Storm;
    if (!this.stopping && !ramped && this.launched < this.shard.connections) {
      this.startOne();
    }
  }

  // ---- open model -------------------------------------------------------------------------

  private tick(): void {
    if (this.stopping || this.finished) return;
    const rate = this.shard.rate!;
    const now = performance.now();
    let due = dueCount(this.scheduleStart, rate, this.scheduled, now + LOOKAHEAD_MS);
    let limit = messagesBefore(this.scheduleStart, rate, this.deadline);
    if (this.shard.messages !== undefined) limit = Math.min(limit, this.shard.messages);
    due = Math.min(due, limit - this.scheduled, MAX_SENDS_PER_TICK);
    const open = this.open;
    for (let i = 0; i < due; i++) {
      const connection = this.nextSendable();
      // Every connection backs up: the messages stay due and keep their intended times.
      if (connection === undefined) break;
      const intended = intendedTime(this.scheduleStart, rate, this.scheduled);
      connection.send(latencyOrigin(intended, now, this.shard.correction) * 1000);
      this.scheduled++;
      if (!connection.dirty) {
        connection.dirty = true;
        this.dirty.push(connection);
      }
    }
    for (const connection of this.dirty) connection.flush();
    this.dirty.length = 0;
    if (this.scheduled >= limit) {
      if (this.shard.messages !== undefined && this.scheduled >= this.shard.messages) this.beginStop();
      return;
    }
    const next = intendedTime(this.scheduleStart, rate, this.scheduled);
    this.after(open.length === 0 ? 10 : next - LOOKAHEAD_MS - performance.now(), () => this.tick());
  }

  private nextSendable(): BenchConnection | undefined {
    const open = this.open;
    for (let tries = 0; tries < open.length; tries++) {
      const connection = open[this.roundRobin++ % open.length]!;
      if (connection.isOpen && connection.backlog < MAX_CONNECTION_BACKLOG) return connection;
    }
    return undefined;
  }

  // ---- timeouts, stop, bins ---------------------------------------------------------------

  private checkTimeouts(): void {
    const oldest = performance.now() * 1000 - this.timeoutMs * 1000;
    for (const connection of this.connections) {
      if (connection.isOpen && connection.inFlight.length > 0 && connection.inFlight.peek() < oldest) {
        connection.timeOut();
      }
    }
  }

  private beginStop(): void {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    // A connection still in its handshake finishes it (within --timeout) and closes on opening,
    // so that every connection the server accepted is one the report counts.
    for (const connection of [...this.connections]) {
      if (connection.phase === ConnectionPhase.Open && connection.inFlight.length === 0) connection.close();
    }
    // Replies still awaited get the usual timeout; then everything left is destroyed.
    this.after(this.timeoutMs, () => {
      for (const connection of [...this.connections]) {
        if (connection.isOpen) connection.timeOut();
      }
    });
    this.after(this.timeoutMs + CLOSE_GRACE_MS, () => this.complete());
    if (this.connections.size === 0) this.complete();
  }

  private scheduleBin(): void {
    const boundary = this.runStart + (this.second + 1) * 1000;
    this.after(boundary - performance.now(), () => {
      this.postBin(this.stats.takeBin(this.shard.thread, this.second));
      this.binsPosted++;
      this.second++;
      this.scheduleBin();
    });
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const stats = this.stats;
    const lastBin = stats.binIsEmpty ? undefined : stats.takeBin(this.shard.thread, this.second);
    this.finish!({
      thread: this.shard.thread,
      binsPosted: this.binsPosted,
      lastBin,
      connectionsAttempted: stats.connectionsAttempted,
      errorsByKind: stats.errorsByKind,
      errorSamples: stats.errorSamples,
      closeCodes: stats.closeCodes,
      firstSendEpochMs: stats.firstSendEpochMs,
      firstFailureEpochMs: stats.firstFailureEpochMs,
      lastReplyEpochMs: stats.lastReplyEpochMs,
      cpuMicros: stats.totalCpuMicros(),
      wallMs: stats.totalWallMs(),
    });
  }

  private after(ms: number, callback: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, Math.max(0, ms));
    this.timers.add(timer);
  }

  private every(ms: number, callback: () => void): void {
    const tick = (): void => {
      callback();
      if (!this.finished) this.after(ms, tick);
    };
    this.after(ms, tick);
  }
}
