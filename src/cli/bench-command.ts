/**
 * `wsthreads bench [url]`: the load tester. Parses and checks the options, starts the embedded
 * echo server when no URL is given, runs the generator threads with a progress display on
 * stderr, and prints the report (table, --json or --json-stream) on stdout. `wsthreads bench
 * merge` makes one report of several. The exit code is 0; 1 when the run could not be made; 2
 * when it measured nothing (no connection opened, no reply matched); a threshold's own code
 * (3 --max-p99, 4 --max-errors, 5 --min-rate, 6 --threshold).
 */
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { asMergeableReport, mergeReports } from '../loadgen/merge-reports.ts';
import { parseThreshold, THRESHOLD_METRICS } from '../loadgen/thresholds.ts';
import type { ThresholdExpression } from '../loadgen/thresholds.ts';
import { availableParallelism } from 'node:os';
import { Option } from 'commander';
import type { Command } from 'commander';
import { defaultBenchOptions, runDurationMs } from '../loadgen/bench-options.ts';
import type { BenchOptions } from '../loadgen/bench-options.ts';
import type { BenchReport, TimelineEntry } from '../loadgen/bench-report.ts';
import { BenchRun } from '../loadgen/bench-runner.ts';
import type { RunProgress } from '../loadgen/bench-runner.ts';
import { renderHtmlReport } from '../loadgen/html-report.ts';
import { ProgressDisplay } from '../loadgen/progress-display.ts';
import type { ProgressFigures } from '../loadgen/progress-display.ts';
import { formatReportTable } from '../loadgen/report-table.ts';
import { describeBreach } from '../loadgen/thresholds.ts';
import type { Thresholds } from '../loadgen/thresholds.ts';
import { BenchMode } from '../loadgen/generator-protocol.ts';
import { parseStages } from '../loadgen/stage-schedule.ts';
import type { Stage } from '../loadgen/stage-schedule.ts';
import { hasTimeUnit, parseTimeSpan } from '../loadgen/time-span.ts';
import { InvalidArgumentError } from '../shared/engine/errors.ts';
import { byteSize, collect, nonNegativeInteger, positiveInteger, positiveNumber, timeSpan } from './option-values.ts';
import { InvalidArgumentError as OptionValueError } from 'commander';

/** Converts a loadgen parser's error into commander's, which reports it against the option. */
function optionValue<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new OptionValueError((error as Error).message);
    }
  };
}

/**
 * --timeout: a duration like every other (bare number: seconds), except that a bare number keeps
 * meaning milliseconds, as it did before units, with a warning.
 */
function legacyTimeout(value: string): number {
  if (hasTimeUnit(value)) return parseTimeSpan(value, 's');
  process.stderr.write(`wsthreads bench: warning: --timeout ${value.trim()} is read as milliseconds (a bare number was ms before units); write ${value.trim()}ms\n`);
  return parseTimeSpan(value, 'ms');
}

function isoTime(value: string): number {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\dT/.test(value) || Number.isNaN(ms)) throw new InvalidArgumentError('Expected an ISO 8601 time such as 2026-12-01T10:00:00Z.');
  return ms;
}

export interface BenchCommandOptions extends ReportOutputOptions {
  mode: BenchMode;
  stages?: Stage[];
  oneMessage?: boolean;
  ping?: number;
  startAt?: number;
  connections: number;
  connectRate?: number;
  duration?: number;
  messages?: number;
  size?: number;
  binary?: boolean;
  message?: string;
  messageFile?: string;
  pipeline?: number;
  rate?: number;
  correction: boolean;
  workers: number;
  timeout: number;
  subprotocol?: string[];
  origin?: string;
  serverWorkers?: number;
  quiet?: boolean;
  jsonStream?: string;
}

export interface BenchCommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function benchOptionsFrom(url: string | undefined, o: BenchCommandOptions): BenchOptions {
  const options = defaultBenchOptions();
  if (o.mode === BenchMode.Echo && o.stages !== undefined) throw new InvalidArgumentError('--stages ramps --mode storm or hold');
  if (o.stages !== undefined && o.duration !== undefined) throw new InvalidArgumentError('--stages sets the run length: drop --duration');
  if (o.oneMessage === true && o.mode !== BenchMode.Storm) throw new InvalidArgumentError('--one-message is for --mode storm');
  if (o.ping !== undefined && o.mode !== BenchMode.Hold) throw new InvalidArgumentError('--ping is for --mode hold');
  if (o.mode !== BenchMode.Echo && (o.messages !== undefined || o.rate !== undefined)) {
    throw new InvalidArgumentError(`-n and -R are for --mode echo, not ${o.mode}`);
  }
  options.mode = o.mode;
  options.stages = o.stages;
  options.oneMessage = o.oneMessage === true;
  options.pingIntervalMs = o.ping;
  options.startAtEpochMs = o.startAt;
  options.url = url;
  options.connections = o.connections;
  options.connectRate = o.connectRate;
  options.durationMs = o.duration;
  options.messages = o.messages;
  if (o.size !== undefined) options.size = o.size;
  options.binary = o.binary === true;
  if (o.message !== undefined) options.template = new TextEncoder().encode(o.message);
  if (o.messageFile !== undefined) options.template = new Uint8Array(readFileSync(o.messageFile));
  if (o.pipeline !== undefined) options.pipeline = o.pipeline;
  options.rate = o.rate;
  options.correction = o.correction;
  options.workers = o.workers;
  options.timeoutMs = o.timeout;
  options.subprotocols = o.subprotocol ?? [];
  options.origin = o.origin;
  // The embedded server shares the machine with the generators: give it the cores they leave.
  options.serverWorkers = o.serverWorkers ?? Math.max(1, availableParallelism() - o.workers);
  return options;
}

function progressFigures(options: BenchOptions, progress: RunProgress): ProgressFigures {
  return {
    elapsedMs: progress.elapsedMs,
    totalMs: runDurationMs(options),
    sent: progress.sent,
    totalMessages: options.messages,
    connections: progress.openConnections,
    receivedPerSecond: progress.lastSecond?.received ?? 0,
    p99Ms: progress.lastSecond?.p99Ms ?? 0,
    errors: progress.errors,
  };
}

export async function runBenchCommand(url: string | undefined, o: BenchCommandOptions, io: BenchCommandIo = process): Promise<number> {
  let options: BenchOptions;
  try {
    options = benchOptionsFrom(url, o);
  } catch (error) {
    io.stderr.write(`wsthreads bench: ${(error as Error).message}\n`);
    return 1;
  }
  const thresholds = thresholdsFrom(o);
  let stream: JsonStream | undefined;
  try {
    if (o.html !== undefined) checkWritable(o.html);
    if (o.jsonStream !== undefined) stream = new JsonStream(o.jsonStream, io);
  } catch (error) {
    io.stderr.write(`wsthreads bench: ${(error as Error).message}\n`);
    return 1;
  }
  let server: { url: string; close(): Promise<void> } | undefined;
  let report: BenchReport;
  const display = o.quiet === true ? undefined : new ProgressDisplay(io.stderr);
  let ticker: NodeJS.Timeout | undefined;
  let interrupts = 0;
  let run: BenchRun | undefined;
  const onInterrupt = (): void => {
    // The first Ctrl-C ends the run early with a report; the second gives up on the report.
    if (++interrupts > 1) process.exit(130);
    display?.message('stopping: draining replies and closing connections (Ctrl-C again to quit)');
    run?.stop();
  };
  process.on('SIGINT', onInterrupt);
  try {
    if (url === undefined) {
      const { startEmbeddedEchoServer } = await import('../loadgen/embedded-echo-server.ts');
      server = await startEmbeddedEchoServer({ workers: options.serverWorkers });
    }
    const targetUrl = url ?? server!.url;
    run = new BenchRun(options, { url: targetUrl, embeddedServer: server !== undefined }, thresholds, {
      onSecond: (progress) => {
        display?.second(progressFigures(options, progress));
        if (progress.lastSecond !== undefined) stream?.second(progress.lastSecond);
      },
      onSaturated: (thread, percent) =>
        display?.message(`warning: generator thread ${thread} is saturated (${percent.toFixed(0)}% of a core): add --workers`),
    });
    if (display !== undefined) ticker = setInterval(() => display.tick(run!.elapsedMs()), 250);
    report = await run.run();
  } catch (error) {
    display?.end();
    io.stderr.write(`wsthreads bench: ${(error as Error).message}\n`);
    return 1;
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onInterrupt);
    await server?.close();
  }
  display?.end();
  if (stream !== undefined) {
    stream.end(report);
    // On stdout the stream is the output; the table would break its lines.
    if (stream.toStdout) return writeReport(report, { ...o, json: true }, { stdout: nowhere, stderr: io.stderr });
  }
  return writeReport(report, o, io);
}

const nowhere = { write: () => true } as unknown as NodeJS.WritableStream;

/**
 * --json-stream: one JSON object per line (NDJSON), as k6's JSON output: `{"type":"second", …}`
 * for each second as soon as every thread has reported it, then `{"type":"summary","report":…}`.
 */
class JsonStream {
  readonly toStdout: boolean;
  private readonly fd: number | undefined;
  private readonly io: BenchCommandIo;
  private lastSecond = -1;

  constructor(path: string, io: BenchCommandIo) {
    this.io = io;
    this.toStdout = path === '-';
    if (!this.toStdout) {
      try {
        this.fd = openSync(path, 'w');
      } catch (error) {
        throw new InvalidArgumentError(`cannot write the JSON stream to ${path}: ${(error as Error).message}`);
      }
    }
  }

  second(entry: TimelineEntry): void {
    if (entry.second <= this.lastSecond) return;
    this.lastSecond = entry.second;
    this.line({ type: 'second', ...entry });
  }

  /** The seconds the run's end settled (their final span with them), then the summary. */
  end(report: BenchReport): void {
    for (const entry of report.timeline) if (entry.second > this.lastSecond) this.second(entry);
    this.line({ type: 'summary', report });
    if (this.fd !== undefined) closeSync(this.fd);
  }

  private line(value: object): void {
    const text = JSON.stringify(value) + '\n';
    if (this.fd === undefined) this.io.stdout.write(text);
    else writeSync(this.fd, text);
  }
}

function thresholdsFrom(o: ReportOutputOptions): Thresholds {
  return { maxP99Ms: o.maxP99, maxErrors: o.maxErrors, minRate: o.minRate, expressions: o.threshold ?? [] };
}

/** Refuses, before any run, an --html path the report could not be written to. */
function checkWritable(file: string): void {
  try {
    if (existsSync(file)) accessSync(file, constants.W_OK);
    else accessSync(dirname(resolve(file)), constants.W_OK);
  } catch {
    throw new InvalidArgumentError(`cannot write the HTML report to ${file}`);
  }
}

/** Prints the report (table or --json), writes --html, and returns the exit code. */
function writeReport(report: BenchReport, o: ReportOutputOptions, io: BenchCommandIo): number {
  if (o.html !== undefined) {
    try {
      writeFileSync(o.html, renderHtmlReport(report));
      if (o.json !== true) io.stderr.write(`HTML report written to ${o.html}\n`);
    } catch (error) {
      io.stderr.write(`wsthreads bench: cannot write the HTML report: ${(error as Error).message}\n`);
    }
  }
  if (o.json === true) io.stdout.write(JSON.stringify(report) + '\n');
  else io.stdout.write(formatReportTable(report) + '\n');
  for (const threshold of report.thresholds) if (!threshold.passed) io.stderr.write(`wsthreads bench: ${describeBreach(threshold)}\n`);
  return report.exitCode;
}

export interface ReportOutputOptions {
  json?: boolean;
  html?: string;
  maxP99?: number;
  maxErrors?: number;
  minRate?: number;
  threshold?: ThresholdExpression[];
}

/** `wsthreads bench merge a.json b.json …`: one report from runs made together on several machines. */
export function runBenchMergeCommand(files: string[], o: ReportOutputOptions, io: BenchCommandIo = process): number {
  let report: BenchReport;
  try {
    if (o.html !== undefined) checkWritable(o.html);
    const reports = files.map((file) => {
      let value: unknown;
      try {
        value = JSON.parse(readFileSync(file, 'utf8'));
      } catch (error) {
        throw new InvalidArgumentError(`${file}: ${(error as Error).message}`);
      }
      return asMergeableReport(value, file);
    });
    report = mergeReports(reports, thresholdsFrom(o));
  } catch (error) {
    io.stderr.write(`wsthreads bench merge: ${(error as Error).message}\n`);
    return 1;
  }
  return writeReport(report, o, io);
}

function addReportOptions(command: Command): Command {
  return command
    .option('--json', 'print the report as one JSON object (schema wsthreads-bench/1)')
    .option('--html <file>', 'also write a self-contained HTML report')
    .option('--threshold <metric<value>', `fail (exit 6) unless this holds, e.g. 'p99<5ms', 'errors<=0', 'rate>=10000' (repeatable); metrics: ${THRESHOLD_METRICS.join(', ')}`, (value: string, previous: ThresholdExpression[] | undefined) => [...(previous ?? []), optionValue(parseThreshold)(value)])
    .option('--max-p99 <ms>', 'fail (exit 3) if the round-trip p99 exceeds this', positiveNumber)
    .option('--max-errors <n>', 'fail (exit 4) if there are more errors than this', nonNegativeInteger)
    .option('--min-rate <msgs/s>', 'fail (exit 5) if fewer replies per second arrive', positiveNumber);
}

/** Adds `bench [url]` to a commander program; the action sets `process.exitCode`. */
export function registerBenchCommand(program: Command): void {
  // Positional: the options after `merge` are merge's, although bench has the same ones
  // (commander allows it on a subcommand once its parent allows it).
  program.enablePositionalOptions();
  const bench = program.command('bench').enablePositionalOptions();
  addReportOptions(
    bench
      .command('merge')
      .description('merge the --json reports of runs made together (on several machines) into one: exact percentiles of the union')
      .argument('<reports...>', 'report files written by wsthreads bench --json'),
  ).action((files: string[], options: ReportOutputOptions) => {
    process.exitCode = runBenchMergeCommand(files, options);
  });
  addReportOptions(bench)
    .description('load-test a WebSocket echo server (none given: start an embedded wsthreads echo server)')
    .argument('[url]', 'ws:// or wss:// URL of an echo server')
    .addOption(new Option('--mode <mode>', 'echo: messages and their echoes; storm: open, handshake, close, again; hold: open and keep connections').choices(Object.values(BenchMode)).default(BenchMode.Echo))
    .option('-c, --connections <n>', 'connections to open (storm: clients at once)', positiveInteger, 100)
    .option('--stages <list>', 'storm, hold: ramp the target in stages, as k6 (10s:100,30s:1000,10s:0); the run lasts their sum', optionValue(parseStages))
    .option('--one-message', 'storm: each connection sends one message and awaits its echo before closing')
    .option('--ping <time>', 'hold: ping every connection this often (500ms, 5s; bare number: seconds)', timeSpan('s'))
    .option('--start-at <iso-time>', 'start at this time (runs on several machines start together)', optionValue(isoTime))
    .option('--connect-rate <n>', 'new connections per second (ramp-up); default: all at once', positiveNumber)
    .option('-d, --duration <time>', 'run length (10s, 500ms, 2m; bare number: seconds); default 10s', timeSpan('s'))
    .option('-n, --messages <n>', 'messages to send in total (ends the run, with or before --duration)', positiveInteger)
    .addOption(new Option('-s, --size <bytes>', 'payload size of generated messages (64, 4k, 1m); default 64').argParser(byteSize).conflicts(['message', 'messageFile']))
    .option('--binary', 'send binary messages (default: text)')
    .addOption(new Option('--message <text>', 'payload template ({{seq}} and {{conn}} are replaced)').conflicts('messageFile'))
    .option('--message-file <file>', 'payload template from a file (raw bytes with --binary)')
    .addOption(new Option('-p, --pipeline <n>', 'closed model: messages in flight per connection; default 1').argParser(positiveInteger).conflicts('rate'))
    .option('-R, --rate <msgs/s>', 'open model: messages per second in total, latency from the intended send time', positiveNumber)
    .option('--no-correction', 'open model: measure latency from the actual send time (no coordinated-omission correction)')
    .option('-w, --workers <n>', 'generator threads', positiveInteger, 1)
    .option('--timeout <time>', 'a reply or handshake not received within this is an error (5s, 500ms); default 5s', optionValue(legacyTimeout), 5000)
    .option('--subprotocol <name>', 'offer a subprotocol (repeatable)', collect)
    .option('--origin <origin>', 'Origin header')
    .option('--server-workers <n>', 'worker threads of the embedded echo server (default: the cores left after the generator threads, at least 1)', positiveInteger)
    .option('--json-stream <file>', "write each second's figures as it ends, then the report, as NDJSON (- for stdout, instead of the table)")
    .option('-q, --quiet', 'no progress display')
    .action(async (url: string | undefined, options: BenchCommandOptions) => {
      process.exitCode = await runBenchCommand(url, options);
    });
}
