/**
 * Peak memory of an echo server under three attacks, next to ws's (`npm run bench:attack`).
 * Each server runs in a child process of its own; the figure is its peak resident set (VmHWM)
 * above what it held before the attack. Bounded: every attack has a fixed size and a deadline.
 *
 * - fragments: one message of 16,000 one-byte fragments, each followed by a Ping and sent only
 *   once the previous Pong came back, so that every read holds one fragment;
 * - declared: 50 connections whose frames declare 60 MiB and bring 1 KiB;
 * - pongs: 1,000,000 unsolicited Pongs from one connection.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { scriptPath, serveTarget, startTarget, type TargetSpec } from './bench-targets.ts';

const Targets: TargetSpec[] = [
  { name: 'ws', kind: 'ws', workers: 0, mirror: true },
  { name: 'wsthreads workers: 0', kind: 'wsthreads', workers: 0, mirror: true },
  { name: 'wsthreads mirror w: 2', kind: 'wsthreads', workers: 2, mirror: true },
];
const Attacks = ['fragments', 'declared', 'pongs'] as const;
type Attack = (typeof Attacks)[number];

/** A field of /proc/<pid>/status, in KiB. */
function statusKiB(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

// ---- the attacks ----------------------------------------------------------------------------------

const MaskKey = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function length64(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

/** A masked client frame, written here byte by byte (the engine under test does not build its attacks). */
function frame(opcode: number, payload: Buffer, fin = true): Buffer {
  const length = payload.length;
  const first = (fin ? 0x80 : 0) | opcode;
  const head = length < 126 ? Buffer.from([first, 0x80 | length])
    : length < 65536 ? Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff])
    : Buffer.concat([Buffer.from([first, 0x80 | 127]), length64(length)]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= MaskKey[i % 4]!;
  return Buffer.concat([head, MaskKey, masked]);
}

async function upgraded(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await deadline(new Promise<void>((resolve) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  }), 10_000, 'the 101');
  return socket;
}

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

async function attack(kind: Attack, port: number): Promise<void> {
  if (kind === 'fragments') {
    const socket = await upgraded(port);
    let received = 0;
    let wanted = 0;
    let wake: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => { received += chunk.length; if (received >= wanted) wake?.(); });
    const ping = frame(0x9, Buffer.alloc(0));
    const count = 16_000;
    for (let i = 0; i < count; i++) {
      socket.write(Buffer.concat([frame(i === 0 ? 0x1 : 0x0, Buffer.from('x'), i === count - 1), ping]));
      // An empty Pong is 2 bytes: the next fragment goes once this read was consumed.
      wanted = 2 * (i + 1);
      if (received < wanted) await deadline(new Promise<void>((resolve) => { wake = resolve; }), 10_000, `pong ${i}`);
    }
    socket.destroy();
  } else if (kind === 'declared') {
    const sockets = await Promise.all(Array.from({ length: 50 }, () => upgraded(port)));
    const start = frame(0x2, Buffer.alloc(60 * 1024 * 1024)).subarray(0, 14 + 1024);
    for (const socket of sockets) socket.write(start);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const socket of sockets) socket.destroy();
  } else {
    const socket = await upgraded(port);
    socket.resume();
    const pong = frame(0xa, Buffer.from('unasked'));
    const chunk = Buffer.concat(Array.from({ length: 4096 }, () => pong));
    for (let sent = 0; sent < 1_000_000; sent += 4096) {
      if (!socket.write(chunk)) await deadline(new Promise((resolve) => socket.once('drain', resolve)), 30_000, 'drain');
    }
    // The server has read them all once a Ping after them is answered.
    await deadline(new Promise<void>((resolve) => {
      socket.on('data', (data: Buffer) => { if (data.includes(0x8a)) resolve(); });
      socket.write(frame(0x9, Buffer.from('last')));
    }), 60_000, 'the last pong');
    socket.destroy();
  }
}

// ---- the run ----------------------------------------------------------------------------------------

async function measure(spec: TargetSpec, which: Attack): Promise<number> {
  const target = await startTarget(scriptPath(import.meta.url), spec);
  try {
    // Warm up (the pool threads take their first connection) before the baseline.
    (await upgraded(target.port)).destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current resident set.
    writeFileSync(`/proc/${target.pid}/clear_refs`, '5');
    const baseKiB = statusKiB(target.pid, 'VmRSS');
    await deadline(attack(which, target.port), 120_000, `${which} on ${spec.name}`);
    return (statusKiB(target.pid, 'VmHWM') - baseKiB) / 1024;
  } finally {
    await target.stop();
  }
}

if (process.argv[2] === '--serve') {
  await serveTarget(JSON.parse(process.argv[3]!) as TargetSpec);
} else {
  console.log(`peak RSS above the server's baseline, MiB (Node ${process.version})`);
  console.log(['attack', ...Targets.map((spec) => spec.name)].join(' | '));
  for (const which of Attacks) {
    const cells: string[] = [];
    for (const spec of Targets) cells.push((await measure(spec, which)).toFixed(1));
    console.log([which, ...cells].join(' | '));
  }
}
