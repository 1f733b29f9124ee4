/**
 * Small inline SVG line charts for the HTML report: no script, no external resource, so the
 * report is one self-contained file that any browser shows as it is.
 */

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

export interface Tick {
  value: number;
  label: string;
}

export interface LineChart {
  title: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  /** Ticks on the x axis; evenly spaced numbers when absent. */
  xTicks?: Tick[];
  width?: number;
  height?: number;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Round numbers for an axis from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 1000) return value.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return String(Number(value.toPrecision(3)));
}

export function lineChart(chart: LineChart): string {
  const width = chart.width ?? 720;
  const height = chart.height ?? 300;
  const left = 70;
  const right = 40;
  const top = 30;
  const bottom = 45;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = chart.series.flatMap((s) => s.points);
  const xMin = chart.xTicks?.[0]?.value ?? Math.min(0, ...all.map((p) => p[0]));
  const xMaxData = Math.max(...all.map((p) => p[0]), xMin + 1);
  const xMax = chart.xTicks === undefined ? xMaxData : Math.max(xMaxData, chart.xTicks[chart.xTicks.length - 1]!.value);
  const yTicks = niceTicks(Math.max(...all.map((p) => p[1]), 0));
  const yMax = yTicks[yTicks.length - 1]!;
  const sx = (x: number): number => left + ((x - xMin) / (xMax - xMin || 1)) * plotW;
  const sy = (y: number): number => top + plotH - (y / (yMax || 1)) * plotH;
  const xTicks = chart.xTicks ?? niceTicks(xMax - xMin, 6).map((v) => ({ value: v + xMin, label: formatTick(v + xMin) }));

  const parts: string[] = [];
  parts.push(`<svg class="chart" role="img" aria-label="${escapeHtml(chart.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`);
  parts.push(`<text x="${left}" y="18" class="title">${escapeHtml(chart.title)}</text>`);
  for (const tick of yTicks) {
    const y = sy(tick).toFixed(1);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y}" class="ytick">${formatTick(tick)}</text>`);
  }
  for (const tick of xTicks) {
    const x = sx(tick.value).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${top + plotH + 16}" class="xtick">${escapeHtml(tick.label)}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${height - 6}" class="axis">${escapeHtml(chart.xLabel)}</text>`);
  parts.push(`<text x="14" y="${top + plotH / 2}" class="axis" transform="rotate(-90 14 ${top + plotH / 2})">${escapeHtml(chart.yLabel)}</text>`);
  chart.series.forEach((series, i) => {
    if (series.points.length > 0) {
      const d = series.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${series.color}" stroke-width="2"><title>${escapeHtml(series.name)}</title></path>`);
    }
    const lx = left + plotW - 160;
    const ly = top + 14 + i * 16;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="3" fill="${series.color}"/>`);
    parts.push(`<text x="${lx + 18}" y="${ly - 4}" class="legend">${escapeHtml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
