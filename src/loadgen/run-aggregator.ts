/**
 * Merges what the generator threads report into run totals, a per-second timeline and per-thread
 * CPU use.
 */
import { MergedHistogram } from './latency-histogram.ts';
import { emptyErrorCounts, MAX_ERROR_SAMPLES } from './generator-protocol.ts';
import type { BenchErrorKind, GeneratorBin, GeneratorResult } from './generator-protocol.ts';
import type { GeneratorUsage, TimelineEntry } from './bench-report.ts';

/** A generator thread at or above this share of a core over a whole second is the bottleneck. */
export const SATURATION_PERCENT = 90;

interface PendingSecond {
  entry: TimelineEntry;
  peak: number;
  histogram: MergedHistogram;
}

interface ThreadUsage {
  cpuMicros: number;
  wallMs: number;
  peakPercent: number;
  peakSecond: number;
}

/**
 * Merges what the generator threads report. Each second's histogram lives only until every
 * thread has reported that second; then it is reduced to its percentiles, so memory stays
 * bounded by the two run-long histograms whatever the run length.
 */
export class RunAggregator {
  readonly roundTrip = new MergedHistogram();
  readonly handshake = new MergedHistogram();
  readonly timeline: TimelineEntry[] = [];
  sent = 0;
  received = 0;
  bytesSent = 0;
  bytesReceived = 0;
  opened = 0;
  failed = 0;
  errors = 0;
  attempted = 0;
  readonly errorsByKind = emptyErrorCounts();
  readonly errorSamples: string[] = [];
  readonly closeCodes: Record<string, number> = {};
  firstSendEpochMs = 0;
  lastReplyEpochMs = 0;
  firstFailureEpochMs = 0;
  /** Most connections open at once, as the sum over threads of each thread's peak in a second. */
  peakOpen = 0;

  private readonly threads: number;
  private readonly pending = new Map<number, PendingSecond>();
  private readonly lastSecond: number[];
  private readonly done: boolean[];
  private readonly binsSeen: number[];
  private readonly openByThread: number[];
  private readonly usage: ThreadUsage[];
  /** Called with each second as soon as every thread has reported it. */
  onSecond: ((entry: TimelineEntry) => void) | undefined;
  /** Called when a thread first spends a whole second at or above SATURATION_PERCENT. */
  onSaturated: ((thread: number, percent: number) => void) | undefined;

  constructor(threads: number) {
    this.threads = threads;
    this.lastSecond = new Array<number>(threads).fill(-1);
    this.done = new Array<boolean>(threads).fill(false);
    this.binsSeen = new Array<number>(threads).fill(0);
    this.openByThread = new Array<number>(threads).fill(0);
    this.usage = Array.from({ length: threads }, () => ({ cpuMicros: 0, wallMs: 0, peakPercent: 0, peakSecond: -1 }));
  }

  /** Connections open now, over all threads (as of their last bin). */
  get openConnections(): number {
    return this.openByThread.reduce((a, b) => a + b, 0);
  }

  binsReceived(thread: number): number {
    return this.binsSeen[thread]!;
  }

  addBin(bin: GeneratorBin, counted = true): void {
    if (counted) this.binsSeen[bin.thread]!++;
    this.sent += bin.sent;
    this.received += bin.received;
    this.bytesSent += bin.bytesSent;
    this.bytesReceived += bin.bytesReceived;
    this.opened += bin.connectionsOpened;
    this.failed += bin.connectionsFailed;
    this.errors += bin.errors;
    this.roundTrip.add(bin.roundTrip);
    this.handshake.add(bin.handshake);
    this.openByThread[bin.thread] = bin.openConnections;

    const usage = this.usage[bin.thread]!;
    usage.cpuMicros += bin.cpuMicros;
    usage.wallMs += bin.wallMs;
    // A short bin (the first, or the last) says little about saturation.
    if (bin.wallMs >= 500) {
      const percent = bin.cpuMicros / 10 / bin.wallMs;
      if (percent > usage.peakPercent) {
        const wasBelow = usage.peakPercent < SATURATION_PERCENT;
        usage.peakPercent = percent;
        usage.peakSecond = bin.second;
        if (wasBelow && percent >= SATURATION_PERCENT) this.onSaturated?.(bin.thread, percent);
      }
    }

    let pending = this.pending.get(bin.second);
    if (pending === undefined) {
      pending = {
        entry: { second: bin.second, spanMs: 1000, sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, connections: 0, opened: 0, failed: 0, errors: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 },
        peak: 0,
        histogram: new MergedHistogram(),
      };
      this.pending.set(bin.second, pending);
    }
    const entry = pending.entry;
    entry.sent += bin.sent;
    entry.received += bin.received;
    entry.bytesSent += bin.bytesSent;
    entry.bytesReceived += bin.bytesReceived;
    entry.connections += bin.openConnections;
    entry.opened += bin.connectionsOpened;
    entry.failed += bin.connectionsFailed;
    pending.peak += bin.peakConnections;
    entry.errors += bin.errors;
    pending.histogram.add(bin.roundTrip);
    this.lastSecond[bin.thread] = Math.max(this.lastSecond[bin.thread]!, bin.second);
    this.settleSeconds();
  }

  addResult(result: GeneratorResult): void {
    if (result.lastBin !== undefined) this.addBin(result.lastBin, false);
    this.done[result.thread] = true;
    this.attempted += result.connectionsAttempted;
    for (const [kind, count] of Object.entries(result.errorsByKind)) this.errorsByKind[kind as BenchErrorKind] += count;
    for (const sample of result.errorSamples) if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(sample);
    for (const [code, count] of Object.entries(result.closeCodes)) this.closeCodes[code] = (this.closeCodes[code] ?? 0) + count;
    if (result.firstSendEpochMs > 0 && (this.firstSendEpochMs === 0 || result.firstSendEpochMs < this.firstSendEpochMs)) {
      this.firstSendEpochMs = result.firstSendEpochMs;
    }
    this.lastReplyEpochMs = Math.max(this.lastReplyEpochMs, result.lastReplyEpochMs);
    if (result.firstFailureEpochMs > 0 && (this.firstFailureEpochMs === 0 || result.firstFailureEpochMs < this.firstFailureEpochMs)) {
      this.firstFailureEpochMs = result.firstFailureEpochMs;
    }
    const usage = this.usage[result.thread]!;
    // The result's totals are exact; the bins may miss the time before the first one.
    usage.cpuMicros = result.cpuMicros;
    usage.wallMs = result.wallMs;
    this.settleSeconds();
  }

  generators(): GeneratorUsage[] {
    return this.usage.map((usage, thread) => ({
      thread,
      cpuPercent: usage.wallMs > 0 ? Math.round((usage.cpuMicros / 10 / usage.wallMs) * 10) / 10 : 0,
      cpuMs: Math.round(usage.cpuMicros / 1000),
      peakCpuPercent: Math.round(usage.peakPercent * 10) / 10,
      saturated: usage.peakPercent >= SATURATION_PERCENT,
    }));
  }

  /** Reduces every second all threads have reported (or that no thread can still report). */
  private settleSeconds(): void {
    let complete = Number.POSITIVE_INFINITY;
    for (let t = 0; t < this.threads; t++) if (!this.done[t]) complete = Math.min(complete, this.lastSecond[t]!);
    const seconds = [...this.pending.keys()].filter((s) => s <= complete).sort((a, b) => a - b);
    for (const second of seconds) {
      const pending = this.pending.get(second)!;
      this.pending.delete(second);
      const summary = pending.histogram.summary();
      pending.entry.p50Ms = summary.p50 / 1000;
      pending.entry.p99Ms = summary.p99 / 1000;
      pending.entry.maxMs = summary.max / 1000;
      this.timeline.push(pending.entry);
      this.peakOpen = Math.max(this.peakOpen, pending.peak);
      this.onSecond?.(pending.entry);
    }
  }
}
