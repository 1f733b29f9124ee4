/** The bench report as the plain-text table printed at the end of a run. */
import type { BenchReport, LatencyMs } from './bench-report.ts';
import { describeThreshold } from './thresholds.ts';

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatRate(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return ms.toFixed(0);
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 10) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** Lays out rows with every column padded to its widest cell (first column left-aligned). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

function keyValues(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}

function latencyRow(name: string, latency: LatencyMs): string[] {
  if (latency.count === 0) return [name, '-', '-', '-', '-', '-', '-', '0'];
  return [
    name,
    formatMs(latency.p50),
    formatMs(latency.p90),
    formatMs(latency.p99),
    formatMs(latency.p999),
    formatMs(latency.max),
    formatMs(latency.mean),
    formatCount(latency.count),
  ];
}

export function describeLoad(report: BenchReport): string {
  const o = report.options;
  const model = o.model === 'open'
    ? `open model at ${formatCount(o.rate!)} msgs/s${o.correction ? ' (corrected for coordinated omission)' : ' (no correction)'}`
    : `closed model, pipeline ${o.pipeline}`;
  const payload = o.payload === 'template' ? `${o.binary ? 'binary' : 'text'} template of ${o.size} bytes` : `${o.size}-byte ${o.binary ? 'binary' : 'text'} messages`;
  const threads = `${o.workers} generator thread${o.workers === 1 ? '' : 's'}`;
  const stages = o.stages === null ? '' : ` in stages ${o.stages.map((s) => `${s.durationMs / 1000}s:${s.target}`).join(',')}`;
  if (o.mode === 'storm') {
    const cycle = o.oneMessage ? `open, handshake, one ${payload.replace(/ messages$/, ' message')}, close` : 'open, handshake, close';
    return `connect storm of ${stages === '' ? `${o.connections} clients` : `clients${stages}`} (${cycle}), ${threads}`;
  }
  if (o.mode === 'hold') {
    const pings = o.pingIntervalMs === null ? 'idle' : `pinged every ${o.pingIntervalMs / 1000} s`;
    return `hold of ${stages === '' ? `${o.connections} connections` : `connections${stages}`} (${pings}), ${threads}`;
  }
  return `${o.connections} connections, ${model}, ${payload}, ${threads}`;
}

export function formatReportTable(report: BenchReport): string {
  const lines: string[] = [];
  const target = report.target.embeddedServer ? `${report.target.url} (embedded echo server)` : report.target.url;
  lines.push(`wsthreads bench ${target}`);
  lines.push(`${describeLoad(report)}; ${(report.durationMs / 1000).toFixed(2)} s`);
  lines.push('');
  lines.push(
    table([
      ['', 'sent', 'received'],
      ['messages', formatCount(report.messages.sent), formatCount(report.messages.received)],
      ['msgs/s', formatRate(report.messages.sentPerSecond), formatRate(report.messages.receivedPerSecond)],
      ['bytes', formatBytes(report.bytes.sent), formatBytes(report.bytes.received)],
      ['bytes/s', formatBytes(report.bytes.sentPerSecond) + '/s', formatBytes(report.bytes.receivedPerSecond) + '/s'],
    ]),
  );
  lines.push('');
  lines.push(
    table([
      ['latency (ms)', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean', 'count'],
      latencyRow('round trip', report.latencyMs.roundTrip),
      latencyRow('handshake', report.latencyMs.handshake),
    ]),
  );
  lines.push('');
  const c = report.connections;
  const closeCodes = Object.entries(report.closeCodes).map(([code, count]) => `${code} ×${formatCount(count)}`).join(', ');
  const errorKinds = Object.entries(report.errors.byKind).filter(([, count]) => count > 0);
  const errors = errorKinds.length === 0 ? 'none' : errorKinds.map(([kind, count]) => `${kind} ${formatCount(count)}`).join(', ');
  const generators = report.generators
    .map((g) => `thread ${g.thread} ${g.cpuPercent.toFixed(0)}% CPU (peak ${g.peakCpuPercent.toFixed(0)}%)${g.saturated ? ' SATURATED' : ''}`)
    .join(', ');
  lines.push(
    keyValues([
      [
        'connections',
        `${formatCount(c.attempted)} attempted, ${formatCount(c.opened)} opened (${formatRate(c.openedPerSecond)}/s), ${formatCount(c.failed)} failed` +
          `; at most ${formatCount(c.peakOpen)} open` + (c.firstFailureAtMs === null ? '' : `; first refused at ${(c.firstFailureAtMs / 1000).toFixed(2)} s`),
      ],
      ['close codes', closeCodes === '' ? 'none' : closeCodes],
      ['errors', errors],
      ['generators', generators],
    ]),
  );
  for (const sample of report.errors.samples.slice(0, 3)) lines.push(`  e.g. ${sample}`);
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  for (const threshold of report.thresholds) lines.push(`${threshold.passed ? '✓' : '✗'} ${describeThreshold(threshold)}`);
  return lines.join('\n');
}
