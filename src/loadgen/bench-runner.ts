/**
 * Runs a bench: splits the connections into one shard per generator thread, runs each shard as
 * one long Piscina task, merges the threads' per-second bins as they arrive (progress) and their
 * results at the end (report).
 *
 * Why Piscina for a handful of long-lived threads: it is the pool the project already runs its
 * server on, it turns each thread's run into a promise of its result, and a thread that dies
 * rejects its task (the run then fails with that error) instead of hanging the runner.
 */
import { MessageChannel } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { BenchOptions } from './bench-options.ts';
import { runDurationMs } from './bench-options.ts';
import type { BenchReport, TimelineEntry } from './bench-report.ts';
import { buildReport } from './build-report.ts';
import type { GeneratorCommand, GeneratorEvent, GeneratorResult, GeneratorShard } from './generator-protocol.ts';
import type { GeneratorTask } from './generator-worker.ts';
import { shareOf } from './open-model-schedule.ts';
import { createPayloadCodec } from './payload.ts';
import { parseClientUrl } from '../shared/connection/client-url.ts';
import { RunAggregator } from './run-aggregator.ts';
import { peakTarget } from './stage-schedule.ts';
import type { Thresholds } from './thresholds.ts';

/** Same extension as this module: .ts when run from source, .js from dist. */
const workerFile = new URL(`./generator-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

/**
 * Piscina derives its transfer-list type from MessagePort.postMessage, which current @types/node
 * overloads; the inferred type no longer admits a MessagePort, though Piscina transfers one fine.
 */
type PiscinaTransferList = NonNullable<Parameters<Piscina['run']>[1]>['transferList'];

export interface RunProgress {
  elapsedMs: number;
  sent: number;
  openConnections: number;
  errors: number;
  /** The last whole second, when one has completed. */
  lastSecond: TimelineEntry | undefined;
}

export interface BenchRunHooks {
  /** Every whole second of the run, as soon as every thread has reported it. */
  onSecond?(progress: RunProgress): void;
  /** A generator thread spent a whole second at or above 90% of a core. */
  onSaturated?(thread: number, percent: number): void;
}

export interface BenchTarget {
  url: string;
  embeddedServer: boolean;
}

/** Splits the run into per-thread shards; each thread's totals are the sums of its connections' shares. */
export function planShards(options: BenchOptions, url: string): GeneratorShard[] {
  const most = options.stages === undefined ? options.connections : Math.max(1, peakTarget(options.stages));
  const threads = Math.max(1, Math.min(options.workers, most));
  const durationMs = runDurationMs(options);
  const shards: GeneratorShard[] = [];
  let first = 0;
  for (let thread = 0; thread < threads; thread++) {
    const connections = shareOf(options.connections, threads, thread);
    let messages: number | undefined;
    if (options.messages !== undefined) {
      messages = 0;
      for (let c = first; c < first + connections; c++) messages += shareOf(options.messages, options.connections, c);
    }
    const fraction = connections / options.connections;
    shards.push({
      thread,
      threads,
      url,
      mode: options.mode,
      stages: options.stages,
      oneMessage: options.oneMessage,
      pingIntervalMs: options.pingIntervalMs,
      connections,
      connectRate: options.connectRate === undefined ? undefined : options.connectRate * fraction,
      durationMs,
      messages,
      payload: { binary: options.binary, size: options.size, template: options.template },
      pipeline: options.pipeline,
      rate: options.rate === undefined ? undefined : options.rate * fraction,
      correction: options.correction,
      timeoutMs: options.timeoutMs,
      subprotocols: options.subprotocols,
      origin: options.origin,
    });
    first += connections;
  }
  return shards;
}

export class BenchRun {
  private readonly options: BenchOptions;
  private readonly target: BenchTarget;
  private readonly thresholds: Thresholds;
  private readonly hooks: BenchRunHooks;
  private readonly ports: MessagePort[] = [];
  private stopRequested = false;
  private started = false;
  private runStartEpochMs = 0;
  private endStartWait: (() => void) | undefined;

  constructor(options: BenchOptions, target: BenchTarget, thresholds: Thresholds, hooks: BenchRunHooks = {}) {
    this.options = options;
    this.target = target;
    this.thresholds = thresholds;
    this.hooks = hooks;
  }

  /** Ends the run early (Ctrl-C): every thread drains and closes as at its deadline. */
  stop(): void {
    this.stopRequested = true;
    this.endStartWait?.();
    if (this.started) for (const port of this.ports) this.send(port, { type: 'stop' });
  }

  /** Milliseconds since the run started (0 before). */
  elapsedMs(): number {
    return this.started ? performance.timeOrigin + performance.now() - this.runStartEpochMs : 0;
  }

  async run(): Promise<BenchReport> {
    // Bad input fails here, with its own error, before any thread starts.
    parseClientUrl(this.target.url);
    createPayloadCodec({ binary: this.options.binary, size: this.options.size, template: this.options.template });
    const shards = planShards(this.options, this.target.url);
    const threads = shards.length;
    const aggregator = new RunAggregator(threads);
    const pool = new Piscina<GeneratorTask, GeneratorResult>({
      filename: workerFile.href,
      name: 'runGeneratorTask',
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
    });
    let sent = 0;
    let running = true;
    aggregator.onSecond = (entry) => {
      // The seconds settled by the final results are the run's tail, not progress.
      if (!running) return;
      this.hooks.onSecond?.({
        elapsedMs: this.elapsedMs(),
        sent,
        openConnections: entry.connections,
        errors: aggregator.errors,
        lastSecond: entry,
      });
    };
    aggregator.onSaturated = (thread, percent) => this.hooks.onSaturated?.(thread, percent);

    let ready = 0;
    let allReady!: () => void;
    const readyPromise = new Promise<void>((resolve) => (allReady = resolve));
    const binWaiters: Array<() => void> = [];
    const tasks = shards.map((shard) => {
      const channel = new MessageChannel();
      this.ports.push(channel.port1);
      channel.port1.on('message', (event: GeneratorEvent) => {
        if (event.type === 'ready') {
          if (++ready === threads) allReady();
        } else {
          sent += event.bin.sent;
          aggregator.addBin(event.bin);
          for (const wake of binWaiters.splice(0)) wake();
        }
      });
      return pool.run({ shard, port: channel.port2 }, { transferList: [channel.port2] as unknown as PiscinaTransferList });
    });
    // A thread that fails before it is ready must not leave the runner waiting for it.
    const failed = Promise.all(tasks).then(() => new Promise<never>(() => {}));
    const startedAt = Date.now();
    try {
      await Promise.race([readyPromise, failed]);
      // --start-at: runs on several machines start together (their clocks agreeing, as NTP keeps them).
      const waitMs = (this.options.startAtEpochMs ?? 0) - Date.now();
      if (waitMs > 0 && !this.stopRequested) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.endStartWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.runStartEpochMs = performance.timeOrigin + performance.now();
      this.started = true;
      for (const port of this.ports) this.send(port, { type: 'start', runStartEpochMs: this.runStartEpochMs });
      if (this.stopRequested) this.stop();
      const results = await Promise.all(tasks);
      running = false;
      for (const result of results) {
        // Bins and the result travel on different channels: wait (bounded) for the bins in flight.
        const deadline = performance.now() + 2000;
        while (aggregator.binsReceived(result.thread) < result.binsPosted && performance.now() < deadline) {
          await new Promise<void>((resolve) => {
            binWaiters.push(resolve);
            setTimeout(resolve, 50).unref();
          });
        }
        aggregator.addResult(result);
      }
    } finally {
      for (const port of this.ports) port.close();
      await pool.destroy();
    }
    return buildReport(aggregator, {
      options: this.options,
      url: this.target.url,
      embeddedServer: this.target.embeddedServer,
      startedAtEpochMs: this.runStartEpochMs === 0 ? startedAt : this.runStartEpochMs,
      wallMs: this.elapsedMs(),
      thresholds: this.thresholds,
    });
  }

  private send(port: MessagePort, command: GeneratorCommand): void {
    port.postMessage(command);
  }
}
