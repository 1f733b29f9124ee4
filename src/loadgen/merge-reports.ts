/**
 * `wsthreads bench merge`: one report from the --json reports of runs made at the same time on
 * several machines (started together with --start-at). Latency percentiles are exact: they come
 * from the sum of the runs' histograms, not from their percentiles. Counts and rates add up (the
 * runs loaded the server together). The per-second timeline adds counts second by second; its
 * per-second p50/p99/max are the highest of the runs' (the runs keep no per-second histograms).
 */
import { BENCH_REPORT_SCHEMA, latencyMs } from './bench-report.ts';
import type { BenchReport, TimelineEntry } from './bench-report.ts';
import { MAX_ERROR_SAMPLES } from './generator-protocol.ts';
import { MergedHistogram } from './latency-histogram.ts';
import { judgeReport } from './thresholds.ts';
import type { Thresholds } from './thresholds.ts';
import { InvalidArgumentError } from '../shared/engine/errors.ts';

/** Checks that `value` (parsed from `source`) is a report this version can merge. */
export function asMergeableReport(value: unknown, source: string): BenchReport {
  const report = value as Partial<BenchReport> | null;
  if (typeof report !== 'object' || report === null || report.schema !== BENCH_REPORT_SCHEMA) {
    throw new InvalidArgumentError(`${source}: not a ${BENCH_REPORT_SCHEMA} report (made with wsthreads bench --json)`);
  }
  if (typeof report.histograms?.roundTrip?.encoded !== 'string') {
    throw new InvalidArgumentError(`${source}: the report has no histograms (made by an older wsthreads)`);
  }
  return report as BenchReport;
}

function sum(reports: BenchReport[], pick: (report: BenchReport) => number): number {
  return reports.reduce((total, report) => total + pick(report), 0);
}

function rounded(n: number): number {
  return Math.round(n * 10) / 10;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
}

function mergeTimelines(reports: BenchReport[]): TimelineEntry[] {
  const seconds = new Map<number, TimelineEntry>();
  for (const report of reports) {
    for (const e of report.timeline) {
      const m = seconds.get(e.second);
      if (m === undefined) {
        seconds.set(e.second, { ...e });
        continue;
      }
      m.spanMs = Math.max(m.spanMs, e.spanMs);
      m.sent += e.sent;
      m.received += e.received;
      m.bytesSent += e.bytesSent;
      m.bytesReceived += e.bytesReceived;
      m.connections += e.connections;
      m.opened += e.opened;
      m.failed += e.failed;
      m.errors += e.errors;
      m.p50Ms = Math.max(m.p50Ms, e.p50Ms);
      m.p99Ms = Math.max(m.p99Ms, e.p99Ms);
      m.maxMs = Math.max(m.maxMs, e.maxMs);
    }
  }
  return [...seconds.values()].sort((a, b) => a.second - b.second);
}

export function mergeReports(reports: BenchReport[], thresholds: Thresholds): BenchReport {
  if (reports.length === 0) throw new InvalidArgumentError('merge needs at least one report');
  const roundTrip = new MergedHistogram();
  const handshake = new MergedHistogram();
  const closeCodes: Record<string, number> = {};
  const byKind = { ...reports[0]!.errors.byKind };
  for (const kind of Object.keys(byKind) as Array<keyof typeof byKind>) byKind[kind] = 0;
  const samples: string[] = [];
  const warnings = [`merged from ${reports.length} runs; the per-second p50, p99 and max are the highest of the runs'`];
  const startedAt = Math.min(...reports.map((r) => Date.parse(r.startedAt)));
  let firstFailure = Number.POSITIVE_INFINITY;
  reports.forEach((report, i) => {
    roundTrip.add(report.histograms.roundTrip);
    handshake.add(report.histograms.handshake);
    addCounts(closeCodes, report.closeCodes);
    addCounts(byKind, report.errors.byKind);
    for (const sample of report.errors.samples) if (samples.length < MAX_ERROR_SAMPLES) samples.push(`run ${i + 1}: ${sample}`);
    for (const warning of report.warnings) if (!warning.startsWith('nothing was measured')) warnings.push(`run ${i + 1}: ${warning}`);
    const failedAt = report.connections.firstFailureAtMs;
    if (failedAt !== null) firstFailure = Math.min(firstFailure, Date.parse(report.startedAt) + failedAt - startedAt);
  });
  const first = reports[0]!;
  const merged: BenchReport = {
    schema: BENCH_REPORT_SCHEMA,
    target: first.target,
    options: { ...first.options, connections: sum(reports, (r) => r.options.connections), workers: sum(reports, (r) => r.options.workers) },
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    messages: {
      sent: sum(reports, (r) => r.messages.sent),
      received: sum(reports, (r) => r.messages.received),
      unanswered: sum(reports, (r) => r.messages.unanswered),
      sentPerSecond: rounded(sum(reports, (r) => r.messages.sentPerSecond)),
      receivedPerSecond: rounded(sum(reports, (r) => r.messages.receivedPerSecond)),
    },
    bytes: {
      sent: sum(reports, (r) => r.bytes.sent),
      received: sum(reports, (r) => r.bytes.received),
      sentPerSecond: rounded(sum(reports, (r) => r.bytes.sentPerSecond)),
      receivedPerSecond: rounded(sum(reports, (r) => r.bytes.receivedPerSecond)),
    },
    latencyMs: {
      roundTrip: latencyMs(roundTrip.summary()),
      handshake: latencyMs(handshake.summary()),
      correctedForCoordinatedOmission: reports.every((r) => r.latencyMs.correctedForCoordinatedOmission),
    },
    histograms: { roundTrip: roundTrip.encode(), handshake: handshake.encode() },
    connections: {
      attempted: sum(reports, (r) => r.connections.attempted),
      opened: sum(reports, (r) => r.connections.opened),
      failed: sum(reports, (r) => r.connections.failed),
      openedPerSecond: rounded(sum(reports, (r) => r.connections.openedPerSecond)),
      peakOpen: sum(reports, (r) => r.connections.peakOpen),
      firstFailureAtMs: firstFailure === Number.POSITIVE_INFINITY ? null : Math.max(0, Math.round(firstFailure)),
    },
    closeCodes,
    errors: { total: sum(reports, (r) => r.errors.total), byKind, samples },
    timeline: mergeTimelines(reports),
    generators: reports.flatMap((r) => r.generators).map((g, thread) => ({ ...g, thread })),
    latencyDistribution: roundTrip.distribution().map((point) => ({ percentile: point.percentile, ms: point.micros / 1000 })),
    warnings,
    thresholds: [],
    exitCode: 0,
  };
  judgeReport(merged, thresholds);
  return merged;
}
