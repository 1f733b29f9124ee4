/**
 * `npm run bench`: our server against `ws` under the same load, in one run.
 *
 * Targets (each an echo server in its own child process, so that it has a main thread of its own):
 *   ws                      the `ws` package's server
 *   wsthreads workers: 0    everything on one thread, the echo handler there too
 *   wsthreads workers: 1|2  connections and the echo handler module in 1 or 2 pool threads
 *   wsthreads mirror w: 2   2 pool threads, echo written against the owner-side sockets
 *                           (every message crosses the threads twice; shows what mirroring costs)
 *
 * Loads (closed loop: a reply lets the next message go):
 *   small: 100 connections × 16 text messages of 64 bytes in flight each
 *   large: 10 connections × 2 binary messages of 1 MiB in flight each
 *
 * The load generator is this process's main thread: raw TCP, pre-masked frames, one write per
 * read, a parser that reads frame headers and skips payloads, latency from send to echo per
 * message (messages echo in order). Not ProtocolEngine: the generator shares the cores with the
 * server, so it does none of the copying, unmasking and UTF-8 checking a real client must do.
 * Everything shares the machine's cores, so the figures compare servers under one generator;
 * they are not the servers' ceilings. Usage: npm run bench [-- --seconds 3]
 */
import { Buffer } from 'node:buffer';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InFlightQueue } from '../src/loadgen/in-flight-queue.ts';
import { createLatencyHistogram, recordMicros, type Histogram } from '../src/loadgen/latency-histogram.ts';
import { buildClientRequest, ClientHandshakeParser } from '../src/shared/engine/client-handshake.ts';
import { createFrameHeader, frameHeaderSize, readFrameHeader, writeFrameHeader } from '../src/shared/engine/frame-codec.ts';
import { maskInto } from '../src/shared/engine/mask.ts';
import { isControlOpCode, OpCode } from '../src/shared/engine/opcode.ts';

// ---------------------------------------------------------------------------------------------
// The servers (child processes)

interface TargetSpec {
  name: string;
  kind: 'ws' | 'wsthreads';
  workers: number;
  mirror: boolean;
}

const Targets: TargetSpec[] = [
  { name: 'ws', kind: 'ws', workers: 0, mirror: false },
  { name: 'wsthreads workers: 0', kind: 'wsthreads', workers: 0, mirror: false },
  { name: 'wsthreads workers: 1', kind: 'wsthreads', workers: 1, mirror: false },
  { name: 'wsthreads workers: 2', kind: 'wsthreads', workers: 2, mirror: false },
  { name: 'wsthreads mirror w: 2', kind: 'wsthreads', workers: 2, mirror: true },
];

type ChildMessage = { port: number } | { cpuMicros: number };

async function serve(spec: TargetSpec): Promise<void> {
  let close: () => Promise<void>;
  let port: number;
  if (spec.kind === 'ws') {
    const { WebSocketServer } = await import('ws');
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    await new Promise((resolve) => server.once('listening', resolve));
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    port = (server.address() as net.AddressInfo).port;
    close = () => new Promise((resolve) => { for (const c of server.clients) c.terminate(); server.close(() => resolve()); });
  } else {
    const { WebSocketServer } = await import('../src/main/websocket-server.ts');
    const { SecureMode } = await import('../src/shared/engine/state.ts');
    const handler = spec.mirror ? undefined : new URL('../src/handlers/echo.ts', import.meta.url);
    const server = new WebSocketServer('bench', SecureMode.NonSecure, { workers: spec.workers, handler, maxPendingConnections: 1000 });
    if (spec.mirror) {
      server.on('newConnection', () => {
        const socket = server.nextPendingConnection()!;
        socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
        socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data));
      });
    }
    if (!(await server.listen('127.0.0.1', 0))) throw new Error(server.errorString());
    port = server.serverPort();
    close = () => server.destroy();
  }
  const started = process.cpuUsage();
  process.on('message', (message: string) => {
    if (message === 'cpu') {
      const used = process.cpuUsage(started);
      process.send!({ cpuMicros: used.user + used.system } satisfies ChildMessage);
    } else if (message === 'exit') {
      void close().finally(() => process.exit(0));
    }
  });
  process.send!({ port } satisfies ChildMessage);
}

interface RunningTarget {
  port: number;
  /** CPU time the server process used so far (all its threads), µs. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

async function startTarget(spec: TargetSpec): Promise<RunningTarget> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const nextMessage = (): Promise<ChildMessage> => new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as ChildMessage));
    child.once('exit', (code) => reject(new Error(`${spec.name} exited with ${code}`)));
  });
  const first = await nextMessage();
  if (!('port' in first)) throw new Error('expected the port first');
  return {
    port: first.port,
    async cpuMicros() {
      const reply = nextMessage();
      child.send('cpu');
      const message = await reply;
      return 'cpuMicros' in message ? message.cpuMicros : 0;
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

/** One client frame, masked once (a server unmasks whatever key it gets). */
function clientFrame(payload: Buffer, binary: boolean): Buffer {
  const frame = Buffer.alloc(frameHeaderSize(payload.length, true) + payload.length);
  const keyAt = writeFrameHeader(frame, 0, true, 0, binary ? OpCode.Binary : OpCode.Text, payload.length, true);
  const key = randomBytes(4);
  frame.set(key, keyAt);
  maskInto(payload, frame, keyAt + 4, key);
  return frame;
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
  readonly #frames: Buffer;
  readonly #frameLength: number;
  readonly #load: Load;
  readonly #counters: Counters;
  /** Send times of the messages in flight, oldest first (echoes come back in order). */
  readonly #sentAt: InFlightQueue;
  /** The start of a frame header that the last read cut off. */
  #pending: Uint8Array | undefined;
  #stopped = false;

  constructor(socket: net.Socket, load: Load, frames: Buffer, frameLength: number, counters: Counters) {
    this.#socket = socket;
    this.#load = load;
    this.#frames = frames;
    this.#frameLength = frameLength;
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
    // Small frames: one write for all of them; large: one write each (no copy).
    if (this.#frameLength * count <= this.#frames.length) {
      this.#socket.write(this.#frames.subarray(0, this.#frameLength * count));
    } else {
      for (let i = 0; i < count; i++) this.#socket.write(this.#frames.subarray(0, this.#frameLength));
    }
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

async function openConnection(port: number): Promise<{ socket: net.Socket; rest: Uint8Array }> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const request = buildClientRequest({ host: `127.0.0.1:${port}`, resourceName: '/' });
  const parser = new ClientHandshakeParser({ key: request.key });
  socket.write(request.bytes);
  const rest = await new Promise<Uint8Array>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      if (result.kind === 'failed') reject(new Error(`upgrade refused: ${result.error.message}`));
      else resolve(result.rest);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during the upgrade')));
  });
  return { socket, rest };
}

interface Result {
  messagesPerSecond: number;
  megabytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Echoed messages per CPU-second of the server process (all its threads). */
  messagesPerCpuSecond: number;
}

async function drive(target: RunningTarget, load: Load, warmUpMs: number, measureMs: number): Promise<Result> {
  const frame = clientFrame(Buffer.alloc(load.payloadBytes, 0x61), load.binary);
  const frames = load.payloadBytes <= 1024 ? Buffer.concat(Array.from({ length: load.inFlight }, () => frame)) : frame;
  const counters = new Counters();
  const opened: Array<{ socket: net.Socket; rest: Uint8Array }> = [];
  for (let i = 0; i < load.connections; i += 25) {
    opened.push(...await Promise.all(Array.from({ length: Math.min(25, load.connections - i) }, () => openConnection(target.port))));
  }
  const connections = opened.map(({ socket }) => new LoadConnection(socket, load, frames, frame.length, counters));
  connections.forEach((connection, i) => connection.start(opened[i]!.rest));
  await new Promise((resolve) => setTimeout(resolve, warmUpMs));
  const cpuBefore = await target.cpuMicros();
  counters.measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, measureMs));
  counters.measuring = false;
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (await target.cpuMicros() - cpuBefore) / 1e6;
  for (const connection of connections) connection.stop();
  for (const { socket } of opened) socket.destroy();
  return {
    messagesPerSecond: counters.messages / seconds,
    megabytesPerSecond: counters.payloadBytes / seconds / 1e6,
    p50Ms: counters.histogram.getValueAtPercentile(50) / 1000,
    p99Ms: counters.histogram.getValueAtPercentile(99) / 1000,
    messagesPerCpuSecond: cpuSeconds > 0 ? counters.messages / cpuSeconds : 0,
  };
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
  const header = ['server', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'msgs/CPU-s', 'vs ws (msgs/s)', 'vs ws (msgs/CPU-s)'];
  const lines = rows.map(([name, r]) => [
    name,
    formatRate(r.messagesPerSecond),
    r.megabytesPerSecond.toFixed(1),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    formatRate(r.messagesPerCpuSecond),
    base ? `${(r.messagesPerSecond / base.messagesPerSecond).toFixed(2)}×` : '',
    base && base.messagesPerCpuSecond > 0 ? `${(r.messagesPerCpuSecond / base.messagesPerCpuSecond).toFixed(2)}×` : '',
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

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, serve: { type: 'string' } } });
  if (values.serve !== undefined) {
    await serve(JSON.parse(values.serve) as TargetSpec);
    return;
  }
  const measureMs = Number(values.seconds) * 1000;
  const warmUpMs = 750;
  console.log(`wsthreads server benchmark: Node ${process.versions.node}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${measureMs / 1000} s per run after ${warmUpMs} ms warm-up`);
  const results = new Map<string, Array<[string, Result]>>();
  for (const load of Loads) results.set(load.name, []);
  for (const spec of Targets) {
    const target = await startTarget(spec);
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
  console.log('');
  for (const load of Loads) {
    console.log(table(load, results.get(load.name)!));
    console.log('');
  }
}

await main();
