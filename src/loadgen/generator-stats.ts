/**
 * One generator thread's figures: counters and latency histograms for the current second, plus
 * run totals (errors by kind, close codes). Hot-path methods are plain field increments.
 */
import { createLatencyHistogram, encodeHistogram, recordMicros } from './latency-histogram.ts';
import type { Histogram } from './latency-histogram.ts';
import { emptyErrorCounts, MAX_ERROR_SAMPLES } from './generator-protocol.ts';
import type { BenchErrorKind, GeneratorBin } from './generator-protocol.ts';

/** CPU time of this thread in µs; the whole process on Node versions without threadCpuUsage. */
export function threadCpuMicros(): number {
  const usage = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return usage.user + usage.system;
}

export class GeneratorStats {
  sent = 0;
  received = 0;
  bytesSent = 0;
  bytesReceived = 0;
  connectionsOpened = 0;
  connectionsFailed = 0;
  errors = 0;
  openConnections = 0;
  peakConnections = 0;
  connectionsAttempted = 0;
  firstSendEpochMs = 0;
  firstFailureEpochMs = 0;
  lastReplyEpochMs = 0;
  readonly errorsByKind = emptyErrorCounts();
  readonly errorSamples: string[] = [];
  readonly closeCodes: Record<string, number> = {};
  private roundTrip: Histogram = createLatencyHistogram();
  private handshake: Histogram = createLatencyHistogram();
  private binCpuStart = threadCpuMicros();
  private binWallStart = performance.now();
  private readonly cpuStart = this.binCpuStart;
  private readonly wallStart = this.binWallStart;

  recordRoundTrip(micros: number): void {
    recordMicros(this.roundTrip, micros);
  }

  recordHandshake(micros: number): void {
    recordMicros(this.handshake, micros);
    this.connectionsOpened++;
    if (++this.openConnections > this.peakConnections) this.peakConnections = this.openConnections;
  }

  recordConnectFailure(): void {
    this.connectionsFailed++;
    if (this.firstFailureEpochMs === 0) this.firstFailureEpochMs = performance.timeOrigin + performance.now();
  }

  recordError(kind: BenchErrorKind, message: string, count = 1): void {
    this.errorsByKind[kind] += count;
    this.errors += count;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(`${kind}: ${message}`);
  }

  recordCloseCode(code: number): void {
    const key = String(code);
    this.closeCodes[key] = (this.closeCodes[key] ?? 0) + 1;
  }

  /** Whether anything was counted since the last bin (an idle tail needs no bin). */
  get binIsEmpty(): boolean {
    return (
      this.sent === 0 && this.received === 0 && this.bytesSent === 0 && this.bytesReceived === 0 &&
      this.connectionsOpened === 0 && this.connectionsFailed === 0 && this.errors === 0
    );
  }

  /** Closes the current second: returns its figures and starts the next one. */
  takeBin(thread: number, second: number): GeneratorBin {
    const cpu = threadCpuMicros();
    const wall = performance.now();
    const bin: GeneratorBin = {
      thread,
      second,
      sent: this.sent,
      received: this.received,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      connectionsOpened: this.connectionsOpened,
      connectionsFailed: this.connectionsFailed,
      peakConnections: this.peakConnections,
      openConnections: this.openConnections,
      errors: this.errors,
      roundTrip: encodeHistogram(this.roundTrip),
      handshake: encodeHistogram(this.handshake),
      cpuMicros: cpu - this.binCpuStart,
      wallMs: wall - this.binWallStart,
    };
    this.sent = this.received = this.bytesSent = this.bytesReceived = 0;
    this.connectionsOpened = this.connectionsFailed = this.errors = 0;
    this.peakConnections = this.openConnections;
    this.roundTrip.reset();
    this.handshake.reset();
    this.binCpuStart = cpu;
    this.binWallStart = wall;
    return bin;
  }

  totalCpuMicros(): number {
    return threadCpuMicros() - this.cpuStart;
  }

  totalWallMs(): number {
    return performance.now() - this.wallStart;
  }
}
