/**
 * `npm run bench:broadcast` (part of `npm run bench`): one topic, every client publishing, every
 * message to every client (the sender included); ours against `ws` with the usual
 * `for (const c of wss.clients) c.send(m)` loop, in the same run, and against Bun's
 * `server.publish` (`bun 1.4`, bench/bun-target.ts) when a Bun binary is found (bench-targets.ts).
 *
 * - The raw TCP floor (raw-floor.ts) beside them: one `socket.write` per delivery and
 *   nothing else, what a server that writes once per delivery cannot go below.
 * - wsthreads with `writeDelay` 1 and 50 ms: output waits that long to share a write, fewer
 *   system calls for more latency (with 16 closed-loop clients the delay also slows the load,
 *   since each waits for its own message).
 * - 16 and 1,000 subscribers on one topic. With 16, each client keeps 4 of its own messages in
 *   flight (it sends the next when its own copy is back), so the load follows what the server
 *   delivers; with 1,000, the clients publish `--rate` messages per second in all (each one a
 *   thousand deliveries). Figures: messages delivered per second and per server CPU-second (all its
 *   threads), delivery latency p50/p99 (send to arrival at each client), and for wsthreads the
 *   frame-once counters: frames built per message published, cross-thread posts, bytes copied
 *   per delivery.
 * - A projection for 16 cores from the per-thread costs of the `workers: 2` run: the owner's
 *   work per published message is serial; the pool's work per delivery spreads over the cores.
 * - Through Redis: two wsthreads processes sharing the topic over a real redis-server,
 *   publishers on one, subscribers on both: messages per second delivered in the other process,
 *   and the latency Redis adds (the other process's p50/p99 against the publishing one's).
 *
 * The clients (`ws`) run in this process and share the cores with the server: figures compare
 * servers under one generator; they are not ceilings.
 * Usage: npm run bench:broadcast [-- --seconds 4 --rate 200 --only 'workers: 1' --no-redis]
 */
import { Buffer } from 'node:buffer';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import WS from 'ws';
import { createLatencyHistogram, recordMicros, type Histogram } from '../src/loadgen/latency-histogram.ts';
import { startRedis } from '../test/helpers/redis.ts';
import { cpuDelta, runnableTargets, scriptPath, serveTarget, startTarget, totalCpu, type RunningTarget, type TargetSample, type TargetSpec, type ThreadCpu } from './bench-targets.ts';
import { format, ratio } from './bench-format.ts';

const Targets: TargetSpec[] = [
  { name: 'raw TCP floor', kind: 'raw', workers: 0, mirror: false, load: 'broadcast' },
  { name: 'ws', kind: 'ws', workers: 0, mirror: false, load: 'broadcast' },
  { name: 'ws + bufferutil', kind: 'ws', native: true, workers: 0, mirror: false, load: 'broadcast' },
  { name: 'wsthreads workers: 0', kind: 'wsthreads', workers: 0, mirror: false, load: 'broadcast' },
  { name: 'wsthreads workers: 1', kind: 'wsthreads', workers: 1, mirror: false, load: 'broadcast' },
  { name: 'wsthreads workers: 2', kind: 'wsthreads', workers: 2, mirror: false, load: 'broadcast' },
  { name: 'wsthreads w: 0 writeDelay 1', kind: 'wsthreads', workers: 0, mirror: false, load: 'broadcast', writeDelay: 1 },
  { name: 'wsthreads w: 0 writeDelay 50', kind: 'wsthreads', workers: 0, mirror: false, load: 'broadcast', writeDelay: 50 },
  { name: 'wsthreads mirror w: 1', kind: 'wsthreads', workers: 1, mirror: true, load: 'broadcast' },
  { name: 'bun 1.4', kind: 'bun', workers: 0, mirror: false, load: 'broadcast' },
];

/** A message: the send time (performance.now(), ms) and the sender's index, padded to 32 bytes. */
const MessageBytes = 32;

interface Member {
  socket: WS;
  index: number;
  /** Own messages sent and not back yet. */
  inFlight: number;
}

/** Counts deliveries and records their latency while `measuring`. */
class Delivery {
  measuring = false;
  delivered = 0;
  histogram: Histogram = createLatencyHistogram();

  record(data: Buffer): void {
    if (!this.measuring) return;
    this.delivered++;
    recordMicros(this.histogram, (performance.now() - data.readDoubleLE(0)) * 1000);
  }
}

function connectMember(url: string, index: number): Promise<Member> {
  return new Promise((resolve, reject) => {
    const socket = new WS(url, { perMessageDeflate: false });
    socket.binaryType = 'nodebuffer';
    socket.once('open', () => resolve({ socket, index, inFlight: 0 }));
    socket.once('error', reject);
  });
}

async function connectAll(url: string, count: number, offset = 0): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < count; i += 50) {
    members.push(...await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => connectMember(url, offset + i + j))));
  }
  return members;
}

function send(member: Member): void {
  const message = Buffer.allocUnsafe(MessageBytes);
  message.writeDoubleLE(performance.now(), 0);
  message.writeUInt32LE(member.index, 8);
  member.inFlight++;
  member.socket.send(message);
}

/** How publishers pace themselves: closed loop (`window` own messages in flight each) or a fixed total rate. */
type Pacing = { window: number } | { ratePerSecond: number };

function describe(pacing: Pacing): string {
  return 'window' in pacing ? `each with ${pacing.window} of its own messages in flight` : `${pacing.ratePerSecond} messages/s published in all, spread over the clients`;
}

/**
 * Closed loop: each publisher sends its next message when its own copy comes back through its
 * pacer (its own socket, or in the Redis run a socket of the other process). Open loop: the
 * publishers take turns at a fixed total rate.
 */
function runLoad(publishers: Member[], receivers: Member[], pacers: Map<number, Member>, pacing: Pacing, delivery: Delivery): { stop(): Promise<void> } {
  let stopping = false;
  const byIndex = new Map(publishers.map((member) => [member.index, member]));
  const closedLoop = 'window' in pacing;
  for (const receiver of receivers) {
    receiver.socket.on('message', (data: Buffer) => {
      delivery.record(data);
      const sender = data.readUInt32LE(8);
      if (pacers.get(sender) !== receiver) return;
      const publisher = byIndex.get(sender)!;
      publisher.inFlight--;
      if (closedLoop && !stopping) send(publisher);
    });
  }
  let timer: NodeJS.Timeout | undefined;
  if (closedLoop) {
    for (const publisher of publishers) for (let i = 0; i < pacing.window; i++) send(publisher);
  } else {
    // Every 10 ms, the messages due since the start, round robin over the publishers.
    const started = performance.now();
    let sent = 0;
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * pacing.ratePerSecond);
      for (; sent < due; sent++) send(publishers[sent % publishers.length]!);
    }, 10);
  }
  return {
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      const deadline = Date.now() + 10_000;
      while (publishers.some((member) => member.inFlight > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    },
  };
}

/**
 * Counts deliveries from the moment the server's CPU is first read until its second reading
 * comes back: a busy server answers late, and the deliveries of that time belong with its CPU.
 */
async function measureWindow(target: RunningTarget, deliveries: Delivery[], measureMs: number): Promise<{ seconds: number; before: TargetSample; after: TargetSample }> {
  const before = await boundedSample(target);
  for (const delivery of deliveries) delivery.measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, measureMs));
  const after = await boundedSample(target);
  for (const delivery of deliveries) delivery.measuring = false;
  return { seconds: (performance.now() - started) / 1000, before, after };
}

/** A server too far behind to answer within this long is reported as such, not waited for. */
const SampleBoundMs = 30_000;

async function boundedSample(target: RunningTarget): Promise<TargetSample> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the server did not answer within ${SampleBoundMs / 1000} s: overloaded`)), SampleBoundMs);
  });
  try {
    return await Promise.race([target.sample(), bound]);
  } finally {
    clearTimeout(timer);
  }
}

interface BroadcastResult {
  deliveredPerSecond: number;
  deliveredPerCpuSecond: number;
  p50: number;
  p99: number;
  cpu: ThreadCpu;
  delivered: number;
  pubsub: { framesBuilt: number; published: number; threadPosts: number; bytesCopied: number; deliveries: number } | undefined;
}

function pubsubDelta(after: Record<string, unknown> | undefined, before: Record<string, unknown> | undefined, delivered: number, subscribers: number): BroadcastResult['pubsub'] {
  if (after === undefined || before === undefined) return undefined;
  const delta = (name: string): number => Number(after[name]) - Number(before[name]);
  return { framesBuilt: delta('framesBuilt'), published: delivered / subscribers, threadPosts: delta('threadPosts'), bytesCopied: delta('bytesCopied'), deliveries: delta('deliveries') };
}

async function measureBroadcast(target: RunningTarget, subscribers: number, pacing: Pacing, warmUpMs: number, measureMs: number): Promise<BroadcastResult> {
  const members = await connectAll(`ws://127.0.0.1:${target.port}/`, subscribers);
  const delivery = new Delivery();
  const load = runLoad(members, members, new Map(members.map((member) => [member.index, member])), pacing, delivery);
  try {
    await new Promise((resolve) => setTimeout(resolve, warmUpMs));
    const { seconds, before, after } = await measureWindow(target, [delivery], measureMs);
    const cpu = cpuDelta(after.cpu, before.cpu);
    return {
      deliveredPerSecond: delivery.delivered / seconds,
      deliveredPerCpuSecond: totalCpu(cpu) > 0 ? delivery.delivered / totalCpu(cpu) : 0,
      p50: delivery.histogram.getValueAtPercentile(50),
      p99: delivery.histogram.getValueAtPercentile(99),
      cpu,
      delivered: delivery.delivered,
      pubsub: pubsubDelta(after.pubsub, before.pubsub, delivery.delivered, subscribers),
    };
  } finally {
    await load.stop();
    for (const member of members) member.socket.terminate();
  }
}

interface RedisResult {
  acrossPerSecond: number;
  local: { p50: number; p99: number };
  across: { p50: number; p99: number };
}

async function measureRedis(publishers: number, subscribers: number, pacing: Pacing, warmUpMs: number, measureMs: number): Promise<RedisResult> {
  const redis = await startRedis();
  const spec: TargetSpec = { name: 'wsthreads + redis', kind: 'wsthreads', workers: 1, mirror: false, load: 'broadcast', redis: redis.url };
  const [a, b] = [await startTarget(scriptPath(import.meta.url), spec), await startTarget(scriptPath(import.meta.url), spec)];
  try {
    const senders = await connectAll(`ws://127.0.0.1:${a.port}/`, publishers);
    const far = await connectAll(`ws://127.0.0.1:${b.port}/`, subscribers, publishers);
    // Both processes must have the topic in Redis before the load starts.
    const probe = new Promise<void>((resolve) => far[0]!.socket.once('message', () => resolve()));
    const probing = setInterval(() => send(senders[0]!), 50);
    await probe;
    clearInterval(probing);
    senders[0]!.inFlight = 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const local = new Delivery();
    const across = new Delivery();
    for (const member of senders) member.socket.on('message', (data: Buffer) => local.record(data));
    // Paced by the far side: a publisher's next message goes when the other process has its last.
    const load = runLoad(senders, far, new Map(senders.map((member) => [member.index, far[0]!])), pacing, across);
    await new Promise((resolve) => setTimeout(resolve, warmUpMs));
    const { seconds } = await measureWindow(b, [local, across], measureMs);
    await load.stop();
    for (const member of [...senders, ...far]) member.socket.terminate();
    const percentiles = (delivery: Delivery): { p50: number; p99: number } => ({ p50: delivery.histogram.getValueAtPercentile(50), p99: delivery.histogram.getValueAtPercentile(99) });
    return { acrossPerSecond: across.delivered / seconds, local: percentiles(local), across: percentiles(across) };
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
  }
}

function ms(micros: number): string {
  return (micros / 1000).toFixed(micros >= 10_000 ? 0 : 2);
}

/**
 * Deliveries per second on `cores` cores from the `workers: 2` run's per-thread costs: every
 * published message passes the owner once (it forwards to the other threads: serial work), and
 * every delivery costs pool time (spread over `cores - 1` threads).
 */
function projection(result: BroadcastResult, subscribers: number, cores: number): { rate: number; limit: string } {
  const published = result.delivered / subscribers;
  const ownerPerMessage = result.cpu.owner / Math.max(published, 1);
  const poolPerDelivery = (result.cpu.pool + result.cpu.v8 + result.cpu.other) / Math.max(result.delivered, 1);
  const ownerRate = subscribers / Math.max(ownerPerMessage, 1e-12);
  const poolRate = (cores - 1) / Math.max(poolPerDelivery, 1e-12);
  return ownerRate < poolRate ? { rate: ownerRate, limit: 'owner thread' } : { rate: poolRate, limit: 'pool threads' };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '4' },
      rate: { type: 'string', default: '200' },
      only: { type: 'string' },
      'no-redis': { type: 'boolean', default: false },
      serve: { type: 'string' },
    },
  });
  if (values.serve !== undefined) {
    await serveTarget(JSON.parse(values.serve) as TargetSpec);
    return;
  }
  const measureMs = Number(values.seconds) * 1000;
  const loads: Array<{ subscribers: number; pacing: Pacing }> = [
    { subscribers: 16, pacing: { window: 4 } },
    // Closed loop here would keep 1,000 messages × 1,000 copies queued: a fixed rate instead.
    { subscribers: 1000, pacing: { ratePerSecond: Number(values.rate) } },
  ];
  console.log(`wsthreads broadcast benchmark: Node ${process.versions.node}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}); one topic, every client publishing ${MessageBytes}-byte binary messages, ${measureMs / 1000} s per run`);
  const only = values.only?.split(',').map((part) => part.trim());
  const targets = runnableTargets(only === undefined ? Targets : Targets.filter((spec) => spec.name === 'ws' || only.some((part) => spec.name.includes(part))));
  const rows: Array<{ spec: TargetSpec; subscribers: number; pacing: Pacing; result: BroadcastResult }> = [];
  for (const load of loads) {
    for (const spec of targets) {
      const target = await startTarget(scriptPath(import.meta.url), spec);
      try {
        const result = await measureBroadcast(target, load.subscribers, load.pacing, 1000, measureMs);
        rows.push({ spec, ...load, result });
        console.log(`  ${String(load.subscribers).padStart(4)} subs  ${spec.name.padEnd(22)} ${format(result.deliveredPerSecond).padStart(7)} delivered/s  ${format(result.deliveredPerCpuSecond).padStart(7)} /CPU-s  p99 ${ms(result.p99)} ms`);
      } catch (error) {
        console.log(`  ${String(load.subscribers).padStart(4)} subs  ${spec.name.padEnd(22)} no figure: ${(error as Error).message}`);
      } finally {
        await target.stop();
      }
    }
  }
  for (const load of loads) {
    const base = rows.find((row) => row.subscribers === load.subscribers && row.spec.name === 'ws');
    console.log('');
    console.log(`### broadcast: ${load.subscribers} subscribers on one topic, ${describe(load.pacing)}`);
    console.log('');
    console.log('| server | delivered/s | delivered/CPU-s | vs ws (/CPU-s) | p50 ms | p99 ms | owner CPU-s | pool CPU-s | frames built per message | thread posts per message | bytes copied per delivery |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const { spec, result } of rows.filter((row) => row.subscribers === load.subscribers)) {
      const p = result.pubsub;
      const counters = p === undefined ? '| | |' : `| ${(p.framesBuilt / Math.max(p.published, 1)).toFixed(2)} | ${(p.threadPosts / Math.max(p.published, 1)).toFixed(3)} | ${(p.bytesCopied / Math.max(p.deliveries, 1)).toFixed(1)} |`;
      console.log(`| ${spec.name} | ${format(result.deliveredPerSecond)} | ${format(result.deliveredPerCpuSecond)} | ${ratio(result.deliveredPerCpuSecond, base?.result.deliveredPerCpuSecond)} | ${ms(result.p50)} | ${ms(result.p99)} | ${result.cpu.owner.toFixed(2)} | ${result.cpu.pool.toFixed(2)} ${counters}`);
    }
  }
  const pooled = rows.filter((row) => row.spec.name === 'wsthreads workers: 2');
  if (pooled.length > 0) {
    console.log('');
    console.log('### projection for 16 cores from the workers: 2 per-thread costs (deliveries/s)');
    console.log('');
    console.log('| subscribers | 16 cores | limit | ws, one process (measured /CPU-s) |');
    console.log('| ---: | ---: | --- | ---: |');
    for (const row of pooled) {
      const p16 = projection(row.result, row.subscribers, 16);
      const base = rows.find((other) => other.subscribers === row.subscribers && other.spec.name === 'ws');
      console.log(`| ${row.subscribers} | ${format(p16.rate)} | ${p16.limit} | ${format(base?.result.deliveredPerCpuSecond ?? 0)} |`);
    }
  }
  if (!values['no-redis']) {
    const result = await measureRedis(16, 16, { window: 4 }, 1000, measureMs);
    console.log('');
    console.log('### through Redis: two wsthreads processes (workers: 1), 16 publishers on one, 16 subscribers on the other');
    console.log('');
    console.log('| delivered/s in the other process | local p50 ms | local p99 ms | other process p50 ms | p99 ms | added by Redis p50 / p99 ms |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| ${format(result.acrossPerSecond)} | ${ms(result.local.p50)} | ${ms(result.local.p99)} | ${ms(result.across.p50)} | ${ms(result.across.p99)} | ${ms(result.across.p50 - result.local.p50)} / ${ms(result.across.p99 - result.local.p99)} |`);
  }
}

await main();
