/**
 * `npm run bench`: our server against `ws` under the same load, in one run.
 *
 * Targets (each an echo server in its own child process, so that it has a main thread of its own):
 *   raw TCP floor           Node's own sockets and the least a WebSocket echo must do (raw-floor.ts):
 *                           what a server on `net.Socket` cannot go below
 *   ws                      the `ws` package's server
 *   ws + bufferutil         the same with its native add-ons (bufferutil, utf-8-validate)
 *   wsthreads workers: 0    everything on one thread, the echo handler there too
 *   wsthreads workers: 1|2  connections and the echo handler module in 1 or 2 pool threads
 *   wsthreads mirror w: 2   2 pool threads, echo written against the owner-side sockets
 *                           (every message crosses the threads twice; shows what mirroring costs)
 *   bun 1.4                 Bun.serve's WebSocket echo in a Bun process (bench/bun-target.ts),
 *                           when a Bun binary is found (else a line says how to get one)
 *
 * Loads (closed loop: a reply lets the next message go):
 *   small: 100 connections × 16 text messages of 64 bytes in flight each
 *   large: 10 connections × 2 binary messages of 1 MiB in flight each
 *
 * Compressed echo (permessage-deflate), against ws with perMessageDeflate (its default level 6,
 * and level 1, ours): 100 connections × 16 in flight × 1 KiB JSON-like text, the generator
 * offering what browsers offer and compressing with context takeover as they do. Reported:
 * msgs/CPU-s, the compression ratio of the server's replies (wire payload / message bytes), and
 * KiB per idle connection with deflate negotiated (the RSS growth over a second batch of 500
 * connections that have each echoed 4 messages, after a GC), next to an uncompressed server's.
 *
 * The load generator is this process's main thread: raw TCP, pre-masked frames, one write per
 * read, a parser that reads frame headers and skips payloads, latency from send to echo per
 * message (messages echo in order). Not ProtocolEngine: the generator shares the cores with the
 * server, so it does none of the copying, unmasking and UTF-8 checking a real client must do.
 * Everything shares the machine's cores, so the figures compare servers under one generator;
 * they are not the servers' ceilings.
 * Usage: npm run bench:server [-- --seconds 3 --only plain|compressed|'bun,workers: 1']
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { InFlightQueue } from '../src/loadgen/in-flight-queue.ts';
import { createLatencyHistogram, recordMicros, type Histogram } from '../src/loadgen/latency-histogram.ts';
import { buildClientRequest, ClientHandshakeParser } from '../src/shared/engine/client-handshake.ts';
import { createFrameHeader, readFrameHeader } from '../src/shared/engine/frame-codec.ts';
import { isControlOpCode, OpCode } from '../src/shared/engine/opcode.ts';
import { clientFrame } from './client-frames.ts';
import type { Extension, ExtensionOffer } from '../src/shared/engine/extension.ts';
import { clientPerMessageDeflate } from '../src/shared/engine/permessage-deflate.ts';
import { GcRequest } from './gc-echo-handler.js';
import { cpuDelta, runnableTargets, scriptPath, serveTarget, startTarget, totalCpu, type RunningTarget, type TargetSpec, type ThreadCpu } from './bench-targets.ts';

// ---------------------------------------------------------------------------------------------
// The servers (child processes)

const Targets: TargetSpec[] = [
  { name: 'raw TCP floor', kind: 'raw', workers: 0, mirror: false },
  { name: 'ws', kind: 'ws', workers: 0, mirror: false },
  { name: 'ws + bufferutil', kind: 'ws', native: true, workers: 0, mirror: false },
  { name: 'wsthreads workers: 0', kind: 'wsthreads', workers: 0, mirror: false },
  { name: 'wsthreads workers: 1', kind: 'wsthreads', workers: 1, mirror: false },
  { name: 'wsthreads workers: 2', kind: 'wsthreads', workers: 2, mirror: false },
  { name: 'wsthreads mirror w: 2', kind: 'wsthreads', workers: 2, mirror: true },
  { name: 'bun 1.4', kind: 'bun', workers: 0, mirror: false },
];

/** The compressed echo's servers; 'uncompressed' is the memory baseline. */
const CompressedTargets: TargetSpec[] = [
  { name: 'ws uncompressed', kind: 'ws', workers: 0, mirror: false },
  { name: 'ws deflate (level 6)', kind: 'ws', workers: 0, mirror: false, deflate: { wsLevel: 6 } },
  { name: 'ws deflate (level 1)', kind: 'ws', workers: 0, mirror: false, deflate: { wsLevel: 1 } },
  { name: 'wsthreads w: 2 shared', kind: 'wsthreads', workers: 2, mirror: false, deflate: 'shared', gcEcho: true },
  { name: 'wsthreads w: 2 dedicated', kind: 'wsthreads', workers: 2, mirror: false, deflate: 'dedicated', gcEcho: true },
  { name: 'wsthreads w: 2 dedicated:15', kind: 'wsthreads', workers: 2, mirror: false, deflate: { mode: 'dedicated', windowBits: 15 }, gcEcho: true },
  { name: 'wsthreads w: 2 uncompressed', kind: 'wsthreads', workers: 2, mirror: false, gcEcho: true },
];

// ---------------------------------------------------------------------------------------------
// The load generator

interface Load {
  name: string;
  connections: number;
  inFlight: number;
  payloadBytes: number;
  binary: boolean;
}

const Loads: Load[] = [
  { name: 'small', connections: 100, inFlight: 16, payloadBytes: 64, binary: false },
  { name: 'large', connections: 10, inFlight: 2, payloadBytes: 1024 * 1024, binary: true },
];

/** Writes a load's messages to one connection. */
interface MessageSender {
  send(socket: net.Socket, count: number): void;
}

/** The same pre-masked frame again and again: no work in the generator per message. */
class PreMaskedSender implements MessageSender {
  readonly #frames: Buffer;
  readonly #frameLength: number;

  constructor(frames: Buffer, frameLength: number) {
    this.#frames = frames;
    this.#frameLength = frameLength;
  }

  send(socket: net.Socket, count: number): void {
    // Small frames: one write for all of them; large: one write each (no copy).
    if (this.#frameLength * count <= this.#frames.length) {
      socket.write(this.#frames.subarray(0, this.#frameLength * count));
    } else {
      for (let i = 0; i < count; i++) socket.write(this.#frames.subarray(0, this.#frameLength));
    }
  }
}

/** Messages from a pool, compressed by the connection's permessage-deflate as a browser would. */
class CompressingSender implements MessageSender {
  readonly #extension: Extension;
  readonly #messages: Buffer[];
  readonly #key = randomBytes(4);
  #next = 0;

  constructor(extension: Extension, messages: Buffer[]) {
    this.#extension = extension;
    this.#messages = messages;
  }

  send(socket: net.Socket, count: number): void {
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const message = this.#messages[this.#next++ % this.#messages.length]!;
      const { payload, rsv } = this.#extension.encodeMessage(message);
      frames.push(clientFrame(OpCode.Text, payload, this.#key, rsv));
    }
    socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }
}

/** 1 KiB JSON-like messages with the redundancy of real ones: keys repeat, values vary. */
function jsonMessages(count: number, size: number): Buffer[] {
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
  return Array.from({ length: count }, (_, m) => {
    let text = `{"type":"update","seq":${m},"items":[`;
    for (let i = 0; text.length < size; i++) {
      text += `{"id":${(m * 37 + i * 11) % 10007},"user":"${names[(m + i) % names.length]}","score":${((m * 7919 + i * 104729) % 100000) / 100},"active":${(m + i) % 3 === 0}},`;
    }
    return Buffer.from(text.slice(0, size));
  });
}

class Counters {
  messages = 0;
  payloadBytes = 0;
  histogram: Histogram = createLatencyHistogram();
  measuring = false;
}

/** One closed-loop connection: `inFlight` messages outstanding, a new one per echo. */
class LoadConnection {
  readonly #socket: net.Socket;
  readonly #sender: MessageSender;
  readonly #load: Load;
  readonly #counters: Counters;
  /** Send times of the messages in flight, oldest first (echoes come back in order). */
  readonly #sentAt: InFlightQueue;
  /** The start of a frame header that the last read cut off. */
  #pending: Uint8Array | undefined;
  #stopped = false;

  constructor(socket: net.Socket, load: Load, sender: MessageSender, counters: Counters) {
    this.#socket = socket;
    this.#load = load;
    this.#sender = sender;
    this.#counters = counters;
    this.#sentAt = new InFlightQueue(load.inFlight);
  }

  start(initial: Uint8Array): void {
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#send(this.#load.inFlight);
    if (initial.length > 0) this.#onData(initial);
  }

  stop(): void {
    this.#stopped = true;
  }

  #send(count: number): void {
    if (this.#stopped || count === 0) return;
    const now = performance.now();
    for (let i = 0; i < count; i++) this.#sentAt.push(now);
    this.#sender.send(this.#socket, count);
  }

  /** Payload bytes of the current frame still to come (frames are skipped, never buffered). */
  #skip = 0;
  #inFrame = false;
  #frameIsData = false;
  #frameFin = false;
  readonly #header = createFrameHeader();

  #onData(chunk: Uint8Array): void {
    const data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    const counters = this.#counters;
    const now = performance.now();
    let offset = 0;
    let completed = 0;
    while (offset < data.length) {
      if (this.#inFrame) {
        const taken = Math.min(this.#skip, data.length - offset);
        this.#skip -= taken;
        offset += taken;
        if (this.#frameIsData && counters.measuring) counters.payloadBytes += taken;
        if (this.#skip > 0) break;
        if (this.#frameIsData && this.#frameFin) {
          completed++;
          const sent = this.#sentAt.shift();
          if (counters.measuring) {
            counters.messages++;
            recordMicros(counters.histogram, (now - sent) * 1000);
          }
        }
        this.#inFrame = false;
        continue;
      }
      const header = this.#header;
      if (!readFrameHeader(data, offset, data.length, header)) break;
      offset += header.headerSize;
      this.#inFrame = true;
      this.#skip = header.payloadLength;
      // Control frames (ping, close) are not echoes.
      this.#frameIsData = !isControlOpCode(header.opcode);
      this.#frameFin = header.fin;
    }
    if (offset < data.length) this.#pending = new Uint8Array(data.subarray(offset));
    this.#send(completed);
  }
}

interface OpenedConnection {
  socket: net.Socket;
  rest: Uint8Array;
  /** The server's extension answers. */
  extensions: ExtensionOffer[];
}

/** What browsers offer. */
const BrowserDeflateOffer = clientPerMessageDeflate();

async function openConnection(port: number, offerDeflate = false): Promise<OpenedConnection> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const offers = offerDeflate ? BrowserDeflateOffer.offers() : [];
  const request = buildClientRequest({ host: `127.0.0.1:${port}`, resourceName: '/', extensions: offers });
  const parser = new ClientHandshakeParser({ key: request.key, extensions: offers.map((offer) => offer.name) });
  socket.write(request.bytes);
  return await new Promise<OpenedConnection>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      if (result.kind === 'failed') reject(new Error(`upgrade refused: ${result.error.message}`));
      else resolve({ socket, rest: result.rest, extensions: result.extensions });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during the upgrade')));
  });
}

/** Opens `count` connections, 25 at a time. */
async function openConnections(port: number, count: number, offerDeflate: boolean): Promise<OpenedConnection[]> {
  const opened: OpenedConnection[] = [];
  for (let i = 0; i < count; i += 25) {
    opened.push(...await Promise.all(Array.from({ length: Math.min(25, count - i) }, () => openConnection(port, offerDeflate))));
  }
  return opened;
}

/** Each connection's compressor, from the server's answer (which must have accepted deflate). */
function compressingSenders(opened: OpenedConnection[], messages: Buffer[]): MessageSender[] {
  return opened.map(({ extensions }) => {
    const answer = extensions.find((offer) => offer.name === 'permessage-deflate');
    if (answer === undefined) throw new Error('the server declined permessage-deflate');
    return new CompressingSender(BrowserDeflateOffer.acceptAnswer(answer), messages);
  });
}

interface Result {
  messagesPerSecond: number;
  megabytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Echoed messages per CPU-second of the server process (all its threads). */
  messagesPerCpuSecond: number;
  /** Wire payload bytes of the replies per message byte (1 when uncompressed). */
  replyRatio: number;
  /** The server's CPU by kind of thread, as shares of its total. */
  cpuShare: ThreadCpu;
}

/** A closed-loop run of `load`; `compressed`: with permessage-deflate, JSON-like messages. */
async function drive(target: RunningTarget, load: Load, warmUpMs: number, measureMs: number, compressed = false): Promise<Result> {
  const counters = new Counters();
  const opened = await openConnections(target.port, load.connections, compressed);
  let senders: MessageSender[];
  if (compressed) {
    senders = compressingSenders(opened, jsonMessages(64, load.payloadBytes));
  } else {
    const frame = clientFrame(load.binary ? OpCode.Binary : OpCode.Text, Buffer.alloc(load.payloadBytes, 0x61));
    const frames = load.payloadBytes <= 1024 ? Buffer.concat(Array.from({ length: load.inFlight }, () => frame)) : frame;
    senders = opened.map(() => new PreMaskedSender(frames, frame.length));
  }
  const connections = opened.map(({ socket }, i) => new LoadConnection(socket, load, senders[i]!, counters));
  connections.forEach((connection, i) => connection.start(opened[i]!.rest));
  await new Promise((resolve) => setTimeout(resolve, warmUpMs));
  const before = await target.sample();
  counters.measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, measureMs));
  counters.measuring = false;
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuDelta((await target.sample()).cpu, before.cpu);
  const cpuSeconds = totalCpu(cpu);
  for (const connection of connections) connection.stop();
  for (const { socket } of opened) socket.destroy();
  return {
    messagesPerSecond: counters.messages / seconds,
    megabytesPerSecond: counters.payloadBytes / seconds / 1e6,
    p50Ms: counters.histogram.getValueAtPercentile(50) / 1000,
    p99Ms: counters.histogram.getValueAtPercentile(99) / 1000,
    messagesPerCpuSecond: cpuSeconds > 0 ? counters.messages / cpuSeconds : 0,
    cpuShare: cpuSeconds > 0 ? { owner: cpu.owner / cpuSeconds, pool: cpu.pool / cpuSeconds, v8: cpu.v8 / cpuSeconds, other: cpu.other / cpuSeconds } : cpu,
    replyRatio: counters.messages > 0 ? counters.payloadBytes / (counters.messages * load.payloadBytes) : 0,
  };
}

const IdleConnections = 500;
const IdleMessagesEach = 4;

/**
 * Server memory per idle connection with deflate negotiated, as a marginal cost: a first batch of
 * IdleConnections pays for what grows once (heaps, allocator arenas, per-thread zlib contexts),
 * then the RSS growth over a second batch, per connection, is what each one holds. Every
 * connection echoes IdleMessagesEach compressed messages first (so that dedicated contexts exist),
 * and every thread runs a GC before each reading.
 */
async function idleKibPerConnection(target: RunningTarget, load: Load): Promise<number> {
  const messages = jsonMessages(64, load.payloadBytes);
  const plain = clientFrame(OpCode.Text, messages[0]!);
  const gc = clientFrame(OpCode.Text, Buffer.from(GcRequest));
  const held: OpenedConnection[] = [];
  const batch = async (): Promise<number> => {
    const opened = await openConnections(target.port, IdleConnections, true);
    held.push(...opened);
    const counters = new Counters();
    counters.measuring = true;
    const idleLoad: Load = { ...load, inFlight: IdleMessagesEach };
    // The uncompressed baseline declines deflate: it gets the same text, uncompressed.
    const senders = opened[0]!.extensions.length > 0 ? compressingSenders(opened, messages) : opened.map(() => new PreMaskedSender(plain, plain.length));
    opened.forEach(({ socket, rest }, i) => {
      const connection = new LoadConnection(socket, idleLoad, senders[i]!, counters);
      connection.start(rest);
      connection.stop(); // the first IdleMessagesEach only
    });
    const deadline = Date.now() + 30_000;
    while (counters.messages < IdleConnections * IdleMessagesEach && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    // Every connection asks for a GC, so that each worker thread gets the request.
    for (const { socket } of held) socket.write(gc);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return (await target.sample('settled')).rssBytes;
  };
  const first = await batch();
  const second = await batch();
  for (const { socket } of held) socket.destroy();
  return (second - first) / IdleConnections / 1024;
}

// ---------------------------------------------------------------------------------------------
// The report

function formatRate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(1);
}

function table(load: Load, rows: Array<[string, Result]>): string {
  const base = rows.find(([name]) => name === 'ws')?.[1];
  const header = ['server', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'msgs/CPU-s', 'vs ws (msgs/s)', 'vs ws (msgs/CPU-s)', 'CPU owner / pool / V8 / other'];
  const lines = rows.map(([name, r]) => [
    name,
    formatRate(r.messagesPerSecond),
    r.megabytesPerSecond.toFixed(1),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    formatRate(r.messagesPerCpuSecond),
    base ? `${(r.messagesPerSecond / base.messagesPerSecond).toFixed(2)}×` : '',
    base && base.messagesPerCpuSecond > 0 ? `${(r.messagesPerCpuSecond / base.messagesPerCpuSecond).toFixed(2)}×` : '',
    [r.cpuShare.owner, r.cpuShare.pool, r.cpuShare.v8, r.cpuShare.other].map((share) => `${Math.round(share * 100)}%`).join(' / '),
  ]);
  const title = `${load.name}: ${load.connections} connections × ${load.inFlight} in flight × ${load.payloadBytes >= 1024 * 1024 ? `${load.payloadBytes / 1024 / 1024} MiB` : `${load.payloadBytes} B`} ${load.binary ? 'binary' : 'text'}`;
  return [
    `### ${title}`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...lines.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}

const CompressedLoad: Load = { name: 'compressed', connections: 100, inFlight: 16, payloadBytes: 1024, binary: false };

function compressedTable(rows: Array<[string, Result | undefined, number]>): string {
  const base = rows.find(([name]) => name === 'ws deflate (level 6)')?.[1];
  const header = ['server', 'msgs/s', 'p99 ms', 'msgs/CPU-s', 'vs ws (msgs/CPU-s)', 'reply ratio', 'KiB per idle connection'];
  const lines = rows.map(([name, r, kib]) => [
    name,
    // The uncompressed servers are there for the memory baseline only.
    ...(r === undefined
      ? ['–', '–', '–', '–', '–']
      : [
        formatRate(r.messagesPerSecond),
        r.p99Ms.toFixed(2),
        formatRate(r.messagesPerCpuSecond),
        base && base.messagesPerCpuSecond > 0 ? `${(r.messagesPerCpuSecond / base.messagesPerCpuSecond).toFixed(2)}×` : '',
        r.replyRatio.toFixed(3),
      ]),
    kib.toFixed(1),
  ]);
  return [
    `### compressed: ${CompressedLoad.connections} connections × ${CompressedLoad.inFlight} in flight × ${CompressedLoad.payloadBytes} B JSON-like text, permessage-deflate as browsers offer it`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...lines.map((cells) => `| ${cells.join(' | ')} |`),
    '',
    `KiB per idle connection: server RSS growth over a second batch of ${IdleConnections} connections that each echoed ${IdleMessagesEach} messages, per connection.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, serve: { type: 'string' }, only: { type: 'string' } } });
  if (values.serve !== undefined) {
    await serveTarget(JSON.parse(values.serve) as TargetSpec);
    return;
  }
  const measureMs = Number(values.seconds) * 1000;
  const warmUpMs = 750;
  console.log(`wsthreads server benchmark: Node ${process.versions.node}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${measureMs / 1000} s per run after ${warmUpMs} ms warm-up`);
  const results = new Map<string, Array<[string, Result]>>();
  for (const load of Loads) results.set(load.name, []);
  // --only compressed: just the compressed echo; plain: everything but it; 'bun,workers: 1': the
  // plain targets whose names contain one of these (ws always runs: the base).
  const only = values.only === 'plain' || values.only === 'compressed' ? undefined : values.only?.split(',').map((part) => part.trim());
  const plain = values.only === 'compressed' ? [] : only === undefined ? Targets : Targets.filter((spec) => spec.name === 'ws' || only.some((part) => spec.name.includes(part)));
  for (const spec of runnableTargets(plain)) {
    const target = await startTarget(scriptPath(import.meta.url), spec);
    try {
      for (const load of Loads) {
        const result = await drive(target, load, warmUpMs, measureMs);
        results.get(load.name)!.push([spec.name, result]);
        console.log(`  ${spec.name.padEnd(22)} ${load.name.padEnd(6)} ${formatRate(result.messagesPerSecond).padStart(8)} msgs/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms`);
      }
    } finally {
      await target.stop();
    }
  }
  const compressed: Array<[string, Result | undefined, number]> = [];
  for (const spec of values.only === undefined || values.only === 'compressed' ? CompressedTargets : []) {
    const target = await startTarget(scriptPath(import.meta.url), spec);
    try {
      const kib = await idleKibPerConnection(target, CompressedLoad);
      const result = spec.deflate === undefined ? undefined : await drive(target, CompressedLoad, warmUpMs, measureMs, true);
      compressed.push([spec.name, result, kib]);
      console.log(`  ${spec.name.padEnd(28)} ${result === undefined ? '' : `${formatRate(result.messagesPerSecond).padStart(8)} msgs/s  ratio ${result.replyRatio.toFixed(3)}  `}${kib.toFixed(1)} KiB/idle connection`);
    } finally {
      await target.stop();
    }
  }
  console.log('');
  for (const load of Loads) {
    if (results.get(load.name)!.length === 0) continue;
    console.log(table(load, results.get(load.name)!));
    console.log('');
  }
  if (compressed.length > 0) {
    console.log(compressedTable(compressed));
    console.log('');
  }
}

await main();
