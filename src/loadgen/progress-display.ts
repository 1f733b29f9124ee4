/**
 * What a run shows while it runs, on stderr (stdout stays for the report or its JSON). On a
 * terminal: one line rewritten in place (cursor to column 0, clear the line). Elsewhere (a pipe,
 * a CI log): one plain line per second, since carriage returns make a mess of log files.
 */
import readline from 'node:readline';
import { formatCount, formatMs } from './report-table.ts';

export interface ProgressFigures {
  elapsedMs: number;
  /** Run length; undefined for a run bounded by a message count. */
  totalMs: number | undefined;
  /** Messages sent so far, and the total when the run is bounded by a count. */
  sent: number;
  totalMessages: number | undefined;
  connections: number;
  /** Replies per second over the last whole second. */
  receivedPerSecond: number;
  /** Round-trip p99 over the last whole second, in ms. */
  p99Ms: number;
  errors: number;
}

export function formatProgress(f: ProgressFigures): string {
  const elapsed = `${(f.elapsedMs / 1000).toFixed(1)}s`;
  const span = f.totalMs !== undefined
    ? `${elapsed} / ${(f.totalMs / 1000).toFixed(1)}s`
    : f.totalMessages !== undefined
      ? `${elapsed}, ${formatCount(f.sent)} / ${formatCount(f.totalMessages)} msgs`
      : elapsed;
  return `[${span}] ${formatCount(f.connections)} conns | ${formatCount(f.receivedPerSecond)} msgs/s | p99 ${formatMs(f.p99Ms)} ms | errors ${formatCount(f.errors)}`;
}

export interface ProgressOutput {
  write(chunk: string): boolean;
  isTTY?: boolean;
}

export class ProgressDisplay {
  private readonly out: ProgressOutput;
  private readonly live: boolean;
  private lineShown = false;
  private last: ProgressFigures | undefined;

  constructor(out: ProgressOutput, live = out.isTTY === true) {
    this.out = out;
    this.live = live;
  }

  /** A new whole second: live mode rewrites the line, plain mode prints it. */
  second(figures: ProgressFigures): void {
    this.last = figures;
    if (this.live) this.redraw(figures);
    else this.out.write(formatProgress(figures) + '\n');
  }

  /** Between seconds, live mode keeps the elapsed time moving. */
  tick(elapsedMs: number): void {
    if (!this.live || this.last === undefined) return;
    this.last = { ...this.last, elapsedMs };
    this.redraw(this.last);
  }

  /** A message of its own line, without tearing the live line. */
  message(text: string): void {
    this.clear();
    this.out.write(text + '\n');
    if (this.live && this.last !== undefined) this.redraw(this.last);
  }

  /** The run is over: the live line goes away so that the report starts on a clean line. */
  end(): void {
    this.clear();
  }

  private redraw(figures: ProgressFigures): void {
    const stream = this.out as NodeJS.WritableStream;
    readline.cursorTo(stream, 0);
    readline.clearLine(stream, 0);
    this.out.write(formatProgress(figures));
    this.lineShown = true;
  }

  private clear(): void {
    if (!this.live || !this.lineShown) return;
    const stream = this.out as NodeJS.WritableStream;
    readline.cursorTo(stream, 0);
    readline.clearLine(stream, 0);
    this.lineShown = false;
  }
}
