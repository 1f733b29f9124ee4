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
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocketServer } from '../src/main/websocket-server.ts';
import { SecureMode } from '../src/shared/engine/state.ts';

type Kind = 'ws' | 'wsthreads workers: 0' | 'wsthreads mirror w: 2';
const Kinds: Kind[] = ['ws', 'wsthreads workers: 0', 'wsthreads mirror w: 2'];
const Attacks = ['fragments', 'declared', 'pongs'] as const;
type Attack = (typeof Attacks)[number];

function statusKiB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

// ---- the server (child process) ---------------------------------------------------------------

async function serve(kind: Kind): Promise<void> {
  let port: number;
  if (kind === 'ws') {
    const wss = new WsServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
    port = (wss.address() as net.AddressInfo).port;
  } else {
    const server = new WebSocketServer('attack', SecureMode.NonSecure, { workers: kind === 'wsthreads workers: 0' ? 0 : 2, maxPendingConnections: 1000 });
    server.on('newConnection', () => {
      const socket = server.nextPendingConnection()!;
      socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
      socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data));
    });
    if (!(await server.listen('127.0.0.1', 0))) throw new Error(server.errorString());
    port = server.serverPort();
  }
  process.on('message', (message) => {
    if (message === 'memory') process.send!({ peakKiB: statusKiB('VmHWM'), rssKiB: statusKiB('VmRSS') });
    // Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current resident set.
    if (message === 'reset') {
      writeFileSync('/proc/self/clear_refs', '5');
      process.send!({ peakKiB: statusKiB('VmHWM'), rssKiB: statusKiB('VmRSS') });
    }
    if (message === 'exit') process.exit(0);
  });
  process.send!({ port });
}

// ---- the attacks ----------------------------------------------------------------------------------

const MaskKey = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function frame(opcode: number, payload: Buffer, fin = true, declared = payload.length): Buffer {
  const head = declared < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | declared])
    : declared < 65536 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, declared >> 8, declared & 0xff])
    : Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(declared)); return b; })()]);
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

async function measure(kind: Kind, which: Attack): Promise<{ baseKiB: number; peakKiB: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (what: 'memory' | 'reset'): Promise<{ peakKiB: number; rssKiB: number }> => new Promise((resolve) => {
    child.once('message', (message) => resolve(message as { peakKiB: number; rssKiB: number }));
    child.send(what);
  });
  try {
    const { port } = await deadline(new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number }))), 20_000, 'the server');
    // Warm up (the pool threads start with the first connection) before the baseline.
    (await upgraded(port)).destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const base = await ask('reset');
    await deadline(attack(which, port), 120_000, `${which} on ${kind}`);
    const after = await ask('memory');
    return { baseKiB: base.rssKiB, peakKiB: after.peakKiB };
  } finally {
    child.send('exit');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3] as Kind);
} else {
  console.log(`peak RSS above the server's baseline, MiB (Node ${process.version})`);
  console.log(['attack', ...Kinds].join(' | '));
  for (const which of Attacks) {
    const cells: string[] = [];
    for (const kind of Kinds) {
      const { baseKiB, peakKiB } = await measure(kind, which);
      cells.push(((peakKiB - baseKiB) / 1024).toFixed(1));
    }
    console.log([which, ...cells].join(' | '));
  }
  process.exit(0);
}
