/**
 * `npm run bench:connections` (part of `npm run bench`): what a connection costs, ours against
 * `ws` in the same run.
 *
 * - connect loop: `--concurrency` clients each open a connection (TCP, upgrade, 101 checked),
 *   close it (a masked Close, the server's Close and TCP end awaited) and start again, for
 *   `--seconds`. Handshakes per second, per server CPU-second, and the server's CPU per
 *   connection by thread: owner, pool threads, V8's helpers (GC), the rest.
 * - idle memory: `--idle` connections opened and held; the server's RSS (after a full GC) per
 *   connection, and its RSS before any connection.
 * - a projection from the measured per-thread costs: handshakes per second on 16 and 64 cores,
 *   with the owner's share serial and the rest spread over the pool, and which one limits.
 * - the start-up footprint: RSS (after a full GC) of a server of 4 threads before any
 *   connection, as it starts by default (`ServerDefaults.minWorkers` threads) and with every
 *   thread started, beside ws.
 *
 * The generator is this process's main thread (raw TCP, no engine), sharing the cores with the
 * server: figures compare servers under one generator, they are not ceilings. `bun 1.4`
 * (Bun.serve's echo, bench/bun-target.ts) runs when a Bun binary is found (bench-targets.ts).
 * The raw TCP floor (raw-floor.ts) runs beside them: a fixed 101 and a Close answered on
 * `net.Socket` alone, what Node's sockets cost per connection by themselves.
 * Usage: npm run bench:connections [-- --seconds 4 --concurrency 50 --idle 10000 --only 'workers: 1']
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buildClientRequest, ClientHandshakeParser } from '../src/shared/engine/client-handshake.ts';
import { OpCode } from '../src/shared/engine/opcode.ts';
import { clientFrame, ZeroKey } from './client-frames.ts';
import { cpuDelta, runnableTargets, scriptPath, serveTarget, startTarget, totalCpu, type RunningTarget, type TargetSample, type TargetSpec, type ThreadCpu } from './bench-targets.ts';
import { format, ratio } from './bench-format.ts';
import { GcReduceRequest } from './gc-echo-handler.js';

const Targets: TargetSpec[] = [
  { name: 'ws', kind: 'ws', workers: 0, mirror: false },
  { name: 'ws + bufferutil', kind: 'ws', native: true, workers: 0, mirror: false },
  { name: 'wsthreads workers: 0', kind: 'wsthreads', workers: 0, mirror: false },
  { name: 'wsthreads workers: 1', kind: 'wsthreads', workers: 1, mirror: false, gcEcho: true },
  { name: 'wsthreads w: 1, owner accepts', kind: 'wsthreads', workers: 1, mirror: false, accept: 'owner', gcEcho: true },
  { name: 'wsthreads mirror w: 1', kind: 'wsthreads', workers: 1, mirror: true },
  { name: 'bun 1.4', kind: 'bun', workers: 0, mirror: false },
  { name: 'raw TCP floor', kind: 'raw', workers: 0, mirror: false },
];

/** Servers sized for 4 cores, read before any connection (see startupFootprint). */
const FootprintTargets: TargetSpec[] = [
  { name: 'ws', kind: 'ws', workers: 0, mirror: false },
  { name: 'wsthreads workers: 0', kind: 'wsthreads', workers: 0, mirror: false },
  { name: 'wsthreads workers: 4, default minWorkers', kind: 'wsthreads', workers: 4, minWorkers: 'default', mirror: false },
  { name: 'wsthreads workers: 4, minWorkers: 4', kind: 'wsthreads', workers: 4, minWorkers: 4, mirror: false },
];

/** A Close with code 1000. */
const CloseFrame = clientFrame(OpCode.Close, Buffer.from([0x03, 0xe8]), ZeroKey);

/** A text frame asking a pool thread for a memory-reducing GC (gc-echo-handler.js). */
const GcReduceFrame = clientFrame(OpCode.Text, Buffer.from(GcReduceRequest), ZeroKey);

/** Opens one connection: resolves with the socket once the 101 has been read and checked. */
function openConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const request = buildClientRequest({ host: `127.0.0.1:${port}`, resourceName: '/' });
    const parser = new ClientHandshakeParser({ key: request.key });
    const onData = (chunk: Buffer): void => {
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      if (result.kind === 'failed') {
        socket.destroy();
        reject(new Error(`upgrade refused: ${result.error.message}`));
      } else {
        resolve(socket);
      }
    };
    socket.once('connect', () => socket.write(request.bytes));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed during the upgrade')));
  });
}

/** The closing handshake from the client's side: our Close, then the server's Close and its end of TCP. */
function closeConnection(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('data', () => {});
    socket.once('close', () => resolve());
    socket.write(CloseFrame);
  });
}

interface ConnectResult {
  handshakesPerSecond: number;
  handshakesPerCpuSecond: number;
  /** Server CPU µs per connection (open + close), by thread. */
  microsPerConnection: ThreadCpu;
  /** Bytes the owner thread's JavaScript allocated per connection (the whole server's with workers: 0); undefined where unknown. */
  allocatedPerConnection: number | undefined;
  /** Messages from the pool threads to the owner, and back, per connection (0 without a pool). */
  postsPerConnection: { fromThreads: number; toThreads: number };
  failures: number;
}

async function connectLoop(target: RunningTarget, concurrency: number, warmUpMs: number, measureMs: number): Promise<ConnectResult> {
  let measuring = false;
  let stopping = false;
  let handshakes = 0;
  let failures = 0;
  const loop = async (): Promise<void> => {
    while (!stopping) {
      try {
        const socket = await openConnection(target.port);
        await closeConnection(socket);
        if (measuring) handshakes++;
      } catch {
        failures++;
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((resolve) => setTimeout(resolve, warmUpMs));
  const before = await target.sample();
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, measureMs));
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  const after = await target.sample();
  stopping = true;
  await Promise.all(loops);
  const cpu = cpuDelta(after.cpu, before.cpu);
  const perConnection = (value: number): number => (handshakes > 0 ? (value * 1e6) / handshakes : 0);
  return {
    handshakesPerSecond: handshakes / seconds,
    handshakesPerCpuSecond: totalCpu(cpu) > 0 ? handshakes / totalCpu(cpu) : 0,
    microsPerConnection: { owner: perConnection(cpu.owner), pool: perConnection(cpu.pool), v8: perConnection(cpu.v8), other: perConnection(cpu.other) },
    allocatedPerConnection: after.allocatedBytes === undefined || before.allocatedBytes === undefined || handshakes === 0 ? undefined : (after.allocatedBytes - before.allocatedBytes) / handshakes,
    postsPerConnection: {
      fromThreads: handshakes > 0 ? ((after.traffic?.signalCalls ?? 0) - (before.traffic?.signalCalls ?? 0)) / handshakes : 0,
      toThreads: handshakes > 0 ? ((after.traffic?.commandCalls ?? 0) - (before.traffic?.commandCalls ?? 0)) / handshakes : 0,
    },
    failures,
  };
}

interface IdleResult {
  rssBeforeBytes: number;
  /** RSS growth per connection after a full GC of the owner thread (of every thread where the pool's handler can be asked). */
  bytesPerConnection: number;
  /**
   * RSS per connection after a memory-reducing GC of those threads, over a further half as many
   * connections opened after those: what each connection itself holds.
   */
  heldBytesPerConnection: number;
  heapBytesPerConnection: number;
}

/**
 * RSS per idle connection, two ways. First as a user's process would show it: the growth over
 * `count` connections, after a full GC of every thread we can reach. This includes the young
 * generation V8 grew while the connections were arriving, which depends on how fast they came
 * and stops at a cap (tens of MiB per thread, however many connections), and it is lowered by
 * free space the heaps had from start-up (a thread that loaded TypeScript has more). Then
 * "held": after a memory-reducing GC, which shrinks the young generation again, the growth over
 * half as many more connections, the free space being used up by then: what each connection
 * holds, the cost per connection at 100,000 of them. The pool thread of a handler target is
 * reached through its GC-on-request handler, over one connection opened first (the targets with
 * a handler run one pool thread); mirror mode's pool thread, which has no handler to ask, through
 * the inspector (worker-gc.ts).
 */
async function idleMemory(target: RunningTarget, spec: TargetSpec, count: number): Promise<IdleResult> {
  const probe = spec.gcEcho ? await openConnection(target.port) : undefined;
  const sampleReduced = async (): Promise<TargetSample> => {
    if (probe !== undefined) {
      const answered = new Promise((resolve) => probe.once('data', resolve));
      probe.write(GcReduceFrame);
      await Promise.race([answered, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer to the GC request')), 10_000).unref())]);
    }
    return target.sample('reduced');
  };
  const sockets: net.Socket[] = [];
  const open = async (until: number): Promise<void> => {
    while (sockets.length < until) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, until - sockets.length) }, () => openConnection(target.port))));
    }
    // Let the server settle (timers, lazily made state) before reading what it holds.
    await new Promise((resolve) => setTimeout(resolve, 500));
  };
  const before = await target.sample('settled');
  await open(count);
  const held = await target.sample('settled');
  const heldReduced = await sampleReduced();
  const more = Math.ceil(count / 2);
  await open(count + more);
  const moreReduced = await sampleReduced();
  for (const socket of sockets) socket.destroy();
  probe?.destroy();
  return {
    rssBeforeBytes: before.rssBytes,
    bytesPerConnection: (held.rssBytes - before.rssBytes) / count,
    heldBytesPerConnection: (moreReduced.rssBytes - heldReduced.rssBytes) / more,
    heapBytesPerConnection: (held.heapUsedBytes - before.heapUsedBytes) / count,
  };
}

/** RSS after a full GC of a server that has just started listening, in bytes. */
async function startupFootprint(spec: TargetSpec): Promise<number> {
  const target = await startTarget(scriptPath(import.meta.url), spec);
  try {
    return (await target.sample('settled')).rssBytes;
  } finally {
    await target.stop();
  }
}

/**
 * Handshakes per second on `cores` cores from one core's measured costs: the owner's work is
 * serial on one thread; the pool's (with its GC) spreads over the other cores. `workers: 0`
 * and ws are one thread: the owner is all there is (a cluster would multiply it by processes).
 */
function projection(result: ConnectResult, cores: number, pooled: boolean): { rate: number; limit: string } {
  const micros = result.microsPerConnection;
  if (!pooled) return { rate: 1e6 / Math.max(totalCpu(micros), 1e-9), limit: 'one thread' };
  const ownerRate = 1e6 / Math.max(micros.owner, 1e-9);
  const poolRate = ((cores - 1) * 1e6) / Math.max(micros.pool + micros.v8 + micros.other, 1e-9);
  return ownerRate < poolRate ? { rate: ownerRate, limit: 'owner thread' } : { rate: poolRate, limit: 'pool threads' };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '4' },
      concurrency: { type: 'string', default: '50' },
      idle: { type: 'string', default: '10000' },
      only: { type: 'string' },
      serve: { type: 'string' },
    },
  });
  if (values.serve !== undefined) {
    await serveTarget(JSON.parse(values.serve) as TargetSpec);
    return;
  }
  const measureMs = Number(values.seconds) * 1000;
  const concurrency = Number(values.concurrency);
  const idle = Number(values.idle);
  console.log(`wsthreads connection benchmark: Node ${process.versions.node}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}); connect loop ${concurrency} clients × ${measureMs / 1000} s, ${idle} idle connections`);
  const rows: Array<{ spec: TargetSpec; connect: ConnectResult; idle: IdleResult }> = [];
  // --only 'workers: 1,mirror': the targets whose names contain one of these (ws always runs: the base).
  const only = values.only?.split(',').map((part) => part.trim());
  const targets = runnableTargets(only === undefined ? Targets : Targets.filter((spec) => spec.name === 'ws' || only.some((part) => spec.name.includes(part))));
  for (const spec of targets) {
    const target = await startTarget(scriptPath(import.meta.url), spec);
    try {
      const idleResult = await idleMemory(target, spec, idle);
      const connect = await connectLoop(target, concurrency, 1000, measureMs);
      rows.push({ spec, connect, idle: idleResult });
      const us = connect.microsPerConnection;
      console.log(`  ${spec.name.padEnd(30)} ${format(connect.handshakesPerSecond).padStart(7)} handshakes/s  owner ${us.owner.toFixed(1)} µs  pool ${us.pool.toFixed(1)} µs  V8 ${us.v8.toFixed(1)} µs  ${(idleResult.bytesPerConnection / 1024).toFixed(1)} KiB/conn (heap ${(idleResult.heapBytesPerConnection / 1024).toFixed(1)}, held ${(idleResult.heldBytesPerConnection / 1024).toFixed(1)})  posts/conn ${connect.postsPerConnection.fromThreads.toFixed(2)} in, ${connect.postsPerConnection.toThreads.toFixed(2)} out${connect.allocatedPerConnection === undefined ? '' : `  owner allocates ${(connect.allocatedPerConnection / 1024).toFixed(1)} KiB/conn`}${connect.failures > 0 ? `  (${connect.failures} failed)` : ''}`);
    } finally {
      await target.stop();
    }
  }
  const base = rows.find((row) => row.spec.name === 'ws');
  console.log('');
  console.log('### connections: open + close, and held idle');
  console.log('');
  console.log('| server | handshakes/s | handshakes/CPU-s | vs ws (/CPU-s) | owner µs | pool µs | V8 µs | other µs | KiB/idle conn | vs ws | KiB held | vs ws | RSS at start MiB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { spec, connect, idle: held } of rows) {
    const us = connect.microsPerConnection;
    console.log(`| ${spec.name} | ${format(connect.handshakesPerSecond)} | ${format(connect.handshakesPerCpuSecond)} | ${ratio(connect.handshakesPerCpuSecond, base?.connect.handshakesPerCpuSecond)} | ${us.owner.toFixed(1)} | ${us.pool.toFixed(1)} | ${us.v8.toFixed(1)} | ${us.other.toFixed(1)} | ${(held.bytesPerConnection / 1024).toFixed(1)} | ${ratio(held.bytesPerConnection, base?.idle.bytesPerConnection)} | ${(held.heldBytesPerConnection / 1024).toFixed(1)} | ${ratio(held.heldBytesPerConnection, base?.idle.heldBytesPerConnection)} | ${(held.rssBeforeBytes / 1048576).toFixed(0)} |`);
  }
  console.log('');
  console.log('### projection from the per-thread costs above (handshakes/s)');
  console.log('');
  console.log('| server | 16 cores | limit | 64 cores | limit |');
  console.log('| --- | ---: | --- | ---: | --- |');
  for (const { spec, connect } of rows) {
    const pooled = spec.kind === 'wsthreads' && spec.workers > 0;
    const p16 = projection(connect, 16, pooled);
    const p64 = projection(connect, 64, pooled);
    console.log(`| ${spec.name}${pooled ? '' : ' (one process)'} | ${format(p16.rate)} | ${p16.limit} | ${format(p64.rate)} | ${p64.limit} |`);
  }
  if (only !== undefined && !only.includes('footprint')) return;
  const footprints: Array<{ spec: TargetSpec; rssBytes: number }> = [];
  for (const spec of runnableTargets(FootprintTargets)) footprints.push({ spec, rssBytes: await startupFootprint(spec) });
  const wsFootprint = footprints.find((row) => row.spec.name === 'ws')?.rssBytes;
  console.log('');
  console.log('### start-up footprint: RSS after a full GC, listening, before any connection');
  console.log('');
  console.log('| server | RSS MiB | vs ws |');
  console.log('| --- | ---: | ---: |');
  for (const { spec, rssBytes } of footprints) console.log(`| ${spec.name} | ${(rssBytes / 1048576).toFixed(0)} | ${ratio(rssBytes, wsFootprint)} |`);
}

await main();
