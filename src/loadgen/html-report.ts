/**
 * `--html <file>`: the bench report as one self-contained HTML page: the summary tables, the
 * latency distribution (HdrHistogram's percentile plot: the x axis stretches towards the tail),
 * throughput and p99 over time as inline SVG, and the whole JSON report embedded for tools.
 * No script runs and nothing is fetched.
 */
import type { BenchReport, TimelineEntry } from './bench-report.ts';
import { describeLoad, formatBytes, formatCount, formatMs, formatRate } from './report-table.ts';
import { escapeHtml, lineChart } from './svg-chart.ts';
import type { Tick } from './svg-chart.ts';

/** x position of a percentile on the tail-stretched axis: 90% → 1, 99% → 2, 99.9% → 3. */
export function percentileAxis(percentile: number): number {
  const remaining = Math.max(100 - percentile, 1e-4);
  return Math.log10(100 / remaining);
}

function percentileLabel(steps: number): string {
  const percentile = 100 - 100 / Math.pow(10, steps);
  return `${steps <= 2 ? percentile.toFixed(0) : percentile.toFixed(steps - 2)}%`;
}

function latencyChart(report: BenchReport): string {
  const points = report.latencyDistribution;
  const tail = points.filter((p) => p.percentile < 100).map((p) => percentileAxis(p.percentile));
  const deepest = Math.ceil(Math.max(2, ...tail));
  const ticks: Tick[] = [];
  for (let i = 0; i <= deepest; i++) ticks.push({ value: i, label: percentileLabel(i) });
  // The max (100th percentile) has no place on a log axis: it gets its own step at the end.
  const maxAt = deepest + 0.5;
  ticks.push({ value: maxAt, label: 'max' });
  const xy = points.map((p): [number, number] => [p.percentile >= 100 ? maxAt : percentileAxis(p.percentile), p.ms]);
  return lineChart({
    title: 'Round-trip latency by percentile',
    series: [{ name: 'round trip', color: '#1f77b4', points: xy }],
    xLabel: 'percentile',
    yLabel: 'ms',
    xTicks: ticks,
  });
}

/**
 * One figure of the timeline as chart points; a second is drawn at its end (1 for the first), and
 * the last, partial one where it ended, a count over its own span (so that the drain after the
 * run does not look like a collapse).
 */
function overTime(report: BenchReport, figure: (entry: TimelineEntry) => number, perSecond = false): Array<[number, number]> {
  return report.timeline.map((entry) => {
    const seconds = entry.spanMs / 1000;
    return [entry.second + seconds, perSecond ? figure(entry) / seconds : figure(entry)];
  });
}

function throughputChart(report: BenchReport): string {
  return lineChart({
    title: 'Throughput over time',
    series: [
      { name: 'sent msgs/s', color: '#2ca02c', points: overTime(report, (t) => t.sent, true) },
      { name: 'received msgs/s', color: '#d62728', points: overTime(report, (t) => t.received, true) },
    ],
    xLabel: 'seconds since start',
    yLabel: 'messages per second',
  });
}

function p99Chart(report: BenchReport): string {
  return lineChart({
    title: 'Round-trip latency over time',
    series: [
      { name: 'p50 ms', color: '#9467bd', points: overTime(report, (t) => t.p50Ms) },
      { name: 'p99 ms', color: '#ff7f0e', points: overTime(report, (t) => t.p99Ms) },
    ],
    xLabel: 'seconds since start',
    yLabel: 'ms',
  });
}

function latencyNote(report: BenchReport): string {
  if (report.options.model === 'closed') {
    return 'Closed model: each round trip is measured from the moment its message was sent.';
  }
  return report.latencyMs.correctedForCoordinatedOmission
    ? 'Open model: each round trip is measured from the time its message was due to be sent (corrected for coordinated omission).'
    : 'Open model without correction: each round trip is measured from the moment its message was actually sent.';
}

function rows(cells: string[][]): string {
  return cells.map((row, i) => `<tr>${row.map((c) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('\n');
}

export function renderHtmlReport(report: BenchReport): string {
  const rt = report.latencyMs.roundTrip;
  const hs = report.latencyMs.handshake;
  const errors = Object.entries(report.errors.byKind).map(([kind, count]) => [kind, formatCount(count)]);
  const closeCodes = Object.entries(report.closeCodes).map(([code, count]) => [code, formatCount(count)]);
  const notes = [...report.warnings, ...report.thresholds.map((t) => `${t.name} ${t.limit}: ${t.passed ? 'held' : 'BREACHED'} (actual ${t.actual})`)];
  // `<` is escaped so that no string in the data can end the script element.
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsthreads bench report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { display: block; margin: 12px 0; }
.chart .grid { stroke: #e4e4e4; }
.chart text { font-size: 11px; fill: #444; }
.chart .title { font-size: 13px; font-weight: 600; }
.chart .ytick { text-anchor: end; dominant-baseline: middle; }
.chart .xtick, .chart .axis { text-anchor: middle; }
.notes li { color: #a33; }
</style>
</head>
<body>
<h1>wsthreads bench</h1>
<p>${escapeHtml(report.target.url)}${report.target.embeddedServer ? ' (embedded echo server)' : ''}, started ${escapeHtml(report.startedAt)}</p>
<p>${escapeHtml(describeLoad(report))}; ${(report.durationMs / 1000).toFixed(2)} s</p>
<table id="throughput">
${rows([
  ['', 'sent', 'received'],
  ['messages', formatCount(report.messages.sent), formatCount(report.messages.received)],
  ['msgs/s', formatRate(report.messages.sentPerSecond), formatRate(report.messages.receivedPerSecond)],
  ['bytes/s', formatBytes(report.bytes.sentPerSecond) + '/s', formatBytes(report.bytes.receivedPerSecond) + '/s'],
])}
</table>
<table id="latency">
${rows([
  ['latency (ms)', 'p50', 'p90', 'p99', 'p99.9', 'max', 'count'],
  ['round trip', formatMs(rt.p50), formatMs(rt.p90), formatMs(rt.p99), formatMs(rt.p999), formatMs(rt.max), formatCount(rt.count)],
  ['handshake', formatMs(hs.p50), formatMs(hs.p90), formatMs(hs.p99), formatMs(hs.p999), formatMs(hs.max), formatCount(hs.count)],
])}
</table>
<p>${escapeHtml(latencyNote(report))}</p>
${latencyChart(report)}
${throughputChart(report)}
${p99Chart(report)}
<table id="errors">
${rows([['error kind', 'count'], ...errors])}
</table>
<table id="close-codes">
${rows([['close code', 'count'], ...closeCodes])}
</table>
<table id="generators">
${rows([['generator thread', 'CPU %', 'peak CPU %'], ...report.generators.map((g) => [String(g.thread), g.cpuPercent.toFixed(1), g.peakCpuPercent.toFixed(1)])])}
</table>
${notes.length === 0 ? '' : `<ul class="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`}
<script type="application/json" id="report-data">${json}</script>
</body>
</html>
`;
}
