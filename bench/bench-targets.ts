/**
 * The servers the developer benchmarks compare, each an echo server in a child process of its
 * own (so that its main thread is its own), and what a benchmark reads of one: its port, its
 * CPU time by thread (owner, pool threads, V8's helper threads, the rest) and its memory.
 *
 * Per-thread CPU comes from /proc/<pid>/task/<tid>/stat (utime + stime, fields 14 and 15, in
 * clock ticks): the owner's thread id is the process id, pool threads are named WorkerThread,
 * V8's helpers (GC, compilers) node-V8Worker. Bun's server (bun-target.ts) is one JavaScript
 * thread, its owner; JavaScriptCore's helpers, HeapHelper (GC) and JITWorker (compilers), count
 * with V8's; mimalloc's mi-scavenger (returning freed pages) is among the rest.
 */
import { execFileSync, fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import type { DeflateOption } from '../src/shared/engine/permessage-deflate.ts';
import { collectGarbage, GcRequest } from './gc-echo-handler.js';
import { collectWorkerGarbage } from './worker-gc.ts';

export interface TargetSpec {
  name: string;
  /**
   * 'raw': Node's floor (raw-floor.ts), its echo or its broadcast; 'bun':
   * `Bun.serve` in a Bun process (bun-target.ts), when a Bun binary is found.
   */
  kind: 'ws' | 'wsthreads' | 'raw' | 'bun';
  /** ws: load its native add-ons (bufferutil, utf-8-validate) when installed. */
  native?: boolean;
  workers: number;
  /**
   * wsthreads: its minWorkers option ('default': the server's own). Default: every thread
   * started before the load, so that a figure measures a server at its full size, not one whose
   * threads start during the run.
   */
  minWorkers?: number | 'default';
  /** wsthreads: echo written against the owner-side sockets (every message crosses the threads). */
  mirror: boolean;
  /** wsthreads: its `accept` option (default: the server's own, 'threads' on Linux). */
  accept?: 'threads' | 'owner';
  /** wsthreads: its perMessageDeflate option; ws: the zlib level of its perMessageDeflate. */
  deflate?: DeflateOption | { wsLevel: number };
  /** wsthreads handler mode: the GC-on-request echo (gc-echo-handler.js), for memory figures. */
  gcEcho?: boolean;
  /**
   * 'broadcast': every message goes to every connection, the sender included (ws: the usual
   * `for (const c of wss.clients) c.send(m)`; wsthreads: one topic, the chat handler or, in
   * mirror mode, owner-side `publish` plus the sender's copy; Bun: one topic, `server.publish`,
   * which unlike `ws.publish` reaches the sender too). Default 'echo'.
   */
  load?: 'echo' | 'broadcast';
  /** wsthreads broadcast: share the topic over this Redis. */
  redis?: string;
  /** wsthreads: its writeDelay option (ms). */
  writeDelay?: number;
}

/** CPU seconds used so far, by kind of thread (`v8`: the JavaScript engine's helpers, JavaScriptCore's in Bun). */
export interface ThreadCpu {
  owner: number;
  pool: number;
  v8: number;
  other: number;
}

export interface TargetSample {
  cpu: ThreadCpu;
  rssBytes: number;
  heapUsedBytes: number;
  /** wsthreads: `server.pubsubStats()` (the frame-once counters). */
  pubsub?: Record<string, unknown>;
  /** Bytes the main thread's JavaScript heap has allocated since start (V8's count; undefined where the engine gives none). */
  allocatedBytes?: number;
  /** wsthreads: `server.threadTrafficStats()` (messages between the owner and the pool threads). */
  traffic?: { signalCalls: number; commandCalls: number };
}

type ChildMessage = { port: number } | { sample: TargetSample };

const ClockTicksPerSecond = 100;

function threadCpu(pid: number): ThreadCpu {
  const cpu: ThreadCpu = { owner: 0, pool: 0, v8: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    let comm: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    // The name in field 2 may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / ClockTicksPerSecond;
    if (Number(tid) === pid) cpu.owner += seconds;
    else if (comm === 'WorkerThread') cpu.pool += seconds;
    else if (comm.includes('V8Worker') || comm === 'HeapHelper' || comm === 'JITWorker') cpu.v8 += seconds;
    else cpu.other += seconds;
  }
  return cpu;
}

export function cpuDelta(after: ThreadCpu, before: ThreadCpu): ThreadCpu {
  return { owner: after.owner - before.owner, pool: after.pool - before.pool, v8: after.v8 - before.v8, other: after.other - before.other };
}

export function totalCpu(cpu: ThreadCpu): number {
  return cpu.owner + cpu.pool + cpu.v8 + cpu.other;
}

/** The built package's entry (`npm run build`, which the bench scripts run first). */
function builtPackage(): string {
  const entry = new URL('../dist/index.js', import.meta.url);
  if (!existsSync(entry)) throw new Error('bench: no dist/ to run (npm run build)');
  return entry.href;
}

/** Runs in the child: the echo server of `spec`, answering the parent's requests for samples. */
export async function serveTarget(spec: TargetSpec): Promise<void> {
  let close: () => Promise<void>;
  let port: number;
  let collect: (reduce: boolean) => void | Promise<void> = collectGarbage;
  let pubsub: (() => Record<string, unknown>) | undefined;
  let traffic: (() => TargetSample['traffic']) | undefined;
  const broadcast = spec.load === 'broadcast';
  if (spec.kind === 'raw') {
    const { serveRawFloor } = await import('./raw-floor.ts');
    ({ port, close } = await serveRawFloor(broadcast ? 'broadcast' : 'echo'));
  } else if (spec.kind === 'ws') {
    if (!spec.native) {
      // ws reads these at import time; without them it uses its JavaScript paths.
      process.env.WS_NO_BUFFER_UTIL = '1';
      process.env.WS_NO_UTF_8_VALIDATE = '1';
    }
    const { WebSocketServer } = await import('ws');
    const level = spec.deflate !== undefined && typeof spec.deflate === 'object' && 'wsLevel' in spec.deflate ? spec.deflate.wsLevel : undefined;
    const perMessageDeflate = level === undefined ? false : { threshold: 256, zlibDeflateOptions: { level } };
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, maxPayload: 64 * 1024 * 1024, clientTracking: true });
    await new Promise((resolve) => server.once('listening', resolve));
    server.on('connection', (socket) => {
      if (broadcast) socket.on('message', (data, isBinary) => { for (const client of server.clients) client.send(data, { binary: isBinary }); });
      else socket.on('message', (data, isBinary) => {
        if (!isBinary && (data as Buffer).length === GcRequest.length && String(data) === GcRequest) collectGarbage(false);
        else socket.send(data, { binary: isBinary });
      });
    });
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => { for (const client of server.clients) client.terminate(); server.close(() => resolve()); });
  } else {
    // The built package, as users run it: its pool threads then load no TypeScript (Node's type
    // stripper costs each thread about 15 MiB, which the figures at start would show).
    const { WebSocketServer, SecureMode } = await import(builtPackage()) as typeof import('../src/index.ts');
    const echo = spec.gcEcho ? './gc-echo-handler.js' : '../dist/handlers/echo.js';
    const handler = spec.mirror ? undefined : new URL(broadcast ? '../dist/handlers/chat.js' : echo, import.meta.url);
    const perMessageDeflate = spec.deflate === undefined || (typeof spec.deflate === 'object' && 'wsLevel' in spec.deflate) ? false : spec.deflate;
    const server = new WebSocketServer('bench', SecureMode.NonSecure, {
      workers: spec.workers,
      ...(spec.minWorkers === 'default' ? {} : { minWorkers: spec.minWorkers ?? Math.max(1, spec.workers) }),
      handler,
      ...(spec.accept === undefined ? {} : { accept: spec.accept }),
      maxPendingConnections: 100_000,
      perMessageDeflate,
      // A long handshake timeout: on a loaded machine 1000 handshakes at once may take more than Qt's 10 s, and ws has none.
      handshakeTimeout: 60_000,
      ...(spec.redis === undefined ? {} : { pubsub: { redis: spec.redis } }),
      ...(spec.writeDelay === undefined ? {} : { writeDelay: spec.writeDelay }),
    });
    pubsub = () => ({ ...server.pubsubStats() });
    traffic = () => server.threadTrafficStats();
    if (spec.mirror && broadcast) {
      server.on('newConnection', () => {
        const socket = server.nextPendingConnection()!;
        socket.subscribe('/');
        socket.on('textMessageReceived', (text) => { socket.publish('/', text); socket.sendTextMessage(text); });
        socket.on('binaryMessageReceived', (data) => { socket.publish('/', data); socket.sendBinaryMessage(data); });
      });
    } else if (spec.mirror) {
      server.on('newConnection', () => {
        const socket = server.nextPendingConnection()!;
        socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
        socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data));
      });
    }
    if (!(await server.listen('127.0.0.1', 0))) throw new Error(server.errorString());
    port = server.serverPort();
    close = () => server.destroy();
    // Mirror mode's pool threads have no handler to ask for a GC: the inspector asks them.
    if (spec.mirror) collect = async (reduce) => {
      collectGarbage(reduce);
      if (reduce) await collectWorkerGarbage(true);
    };
  }
  answerParent(port, close, collect, pubsub, traffic);
}

/**
 * Runs in the child, Node's or Bun's: tells the parent the server's port, then answers its
 * requests for samples until it asks the child to exit. `collect`: a full GC of this thread,
 * `reduce`: one that also gives back what the heap grew and no longer uses (collectGarbage).
 */
export function answerParent(port: number, close: () => Promise<void>, collect: (reduce: boolean) => void | Promise<void>, pubsub?: () => Record<string, unknown>, traffic?: () => TargetSample['traffic']): void {
  const sendSample = (): void => {
    const memory = process.memoryUsage();
    process.send!({ sample: { cpu: threadCpu(process.pid), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, allocatedBytes: (getHeapStatistics() as { total_allocated_bytes?: number }).total_allocated_bytes, pubsub: pubsub?.(), traffic: traffic?.() } } satisfies ChildMessage);
  };
  process.on('message', (message: string) => {
    if (message === 'sample') {
      sendSample();
    } else if (message === 'settled' || message === 'reduced') {
      // Memory after a full collection of this thread: what is held, not garbage. The workers'
      // heaps hold little per connection but zlib contexts, which live outside any heap; give
      // frees a moment to reach the allocator.
      void Promise.resolve(collect(message === 'reduced')).then(() => setTimeout(sendSample, 200));
    } else if (message === 'exit') {
      void close().finally(() => process.exit(0));
    }
  });
  process.send!({ port } satisfies ChildMessage);
}

/**
 * The Bun binary for the 'bun' targets: `$BUN`, else the npm package installed with `--no-save`
 * (about 100 MB: no dependency of ours, so that installs and CI stay quick).
 */
function bunBinary(): string | undefined {
  const path = process.env.BUN ?? fileURLToPath(new URL('../node_modules/@oven/bun-linux-x64/bin/bun', import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** `targets` without the 'bun' ones when no Bun binary is found, saying so (and how to get one) once. */
export function runnableTargets(targets: TargetSpec[]): TargetSpec[] {
  const names = targets.filter((spec) => spec.kind === 'bun').map((spec) => spec.name).join(', ');
  if (names === '') return targets;
  const bun = bunBinary();
  if (bun === undefined) {
    console.log(`  ${names} skipped: no Bun binary (npm install --no-save @oven/bun-linux-x64, or BUN=/path/to/bun)`);
    return targets.filter((spec) => spec.kind !== 'bun');
  }
  // The targets' names say which Bun they were written for; this says which one ran.
  console.log(`  ${names}: Bun ${execFileSync(bun, ['--version'], { encoding: 'utf8' }).trim()} at ${bun}`);
  return targets;
}

export interface RunningTarget {
  port: number;
  /** The child's process id (for what /proc tells of it, such as its peak memory). */
  pid: number;
  /**
   * CPU by thread and memory now; `settled`: after a full GC of the owner thread and a moment,
   * for memory figures; `reduced`: after a memory-reducing one (collectGarbage).
   */
  sample(after?: 'settled' | 'reduced'): Promise<TargetSample>;
  stop(): Promise<void>;
}

function forkServer(script: string, spec: TargetSpec): ChildProcess {
  const args = ['--serve', JSON.stringify(spec)];
  const stdio: ForkOptions['stdio'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (spec.kind !== 'bun') return fork(script, args, { stdio, execArgv: [...process.execArgv, '--expose-gc'] });
  const bun = bunBinary();
  if (bun === undefined) throw new Error(`${spec.name}: no Bun binary (runnableTargets leaves such targets out)`);
  // Bun runs TypeScript itself, and Node's flags are not its own.
  return fork(fileURLToPath(new URL('bun-target.ts', import.meta.url)), args, { stdio, execPath: bun, execArgv: [] });
}

/**
 * Forks `script` (which must call `serveTarget` when given `--serve <spec>`) as the server of
 * `spec`; a 'bun' spec forks bun-target.ts on the Bun binary instead, which speaks Node's IPC.
 */
export async function startTarget(script: string, spec: TargetSpec): Promise<RunningTarget> {
  const child = forkServer(script, spec);
  const nextMessage = (): Promise<ChildMessage> => new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${spec.name} exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as ChildMessage);
    });
  });
  const first = await nextMessage();
  if (!('port' in first)) throw new Error('expected the port first');
  return {
    port: first.port,
    pid: child.pid!,
    async sample(after) {
      const reply = nextMessage();
      child.send(after ?? 'sample');
      const message = await reply;
      if (!('sample' in message)) throw new Error('expected a sample');
      return message.sample;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The path of a benchmark script, for `startTarget`. */
export function scriptPath(importMetaUrl: string): string {
  return fileURLToPath(importMetaUrl);
}
