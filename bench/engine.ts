/**
 * `npm run bench:engine`: our engine against ws's own Receiver and helpers, on the same bytes, in
 * one run. Figures are throughput and the ratio to ws; nothing here is asserted.
 *
 * - frames: a stream of masked 64-byte text frames, cut into 64 KiB reads as a socket delivers
 *   them, parsed as a server (unmask, validate UTF-8, decode to a string: ws hands text over as a
 *   Buffer, so its handler decodes it too, as any user of text must).
 * - unmask: 1 MiB payloads.
 * - utf8: 1 MiB of mixed UTF-8 (ASCII, 2-, 3- and 4-byte characters).
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { applyMask } from '../src/shared/engine/mask.ts';
import { ProtocolEngine } from '../src/shared/engine/protocol-engine.ts';
import { Role } from '../src/shared/engine/state.ts';
import { Utf8Validator, isValidUtf8 } from '../src/shared/engine/utf8-validator.ts';

const require = createRequire(import.meta.url);
// ws's package exports hide lib/, so its helpers are loaded by path.
const wsRoot = dirname(require.resolve('ws'));
const wsBufferUtil = require(join(wsRoot, 'lib/buffer-util.js')) as { unmask(buffer: Buffer, mask: Buffer): void };
const wsValidation = require(join(wsRoot, 'lib/validation.js')) as { isValidUTF8(buffer: Buffer): boolean };
// ws exports its Receiver (a Writable) but @types/ws does not declare it.
interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(chunk: Buffer): boolean;
}
const { Receiver } = require('ws') as { Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver };

const Rounds = 7;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `body` once per round on fresh input from `prepare`, returning the median seconds. */
function measure<T>(prepare: () => T, body: (input: T) => void): number {
  const times: number[] = [];
  for (let round = 0; round < Rounds; round++) {
    const input = prepare();
    const start = process.hrtime.bigint();
    body(input);
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return median(times);
}

function maskedTextFrames(count: number, payloadSize: number): Buffer {
  const frameSize = 2 + 4 + payloadSize;
  const stream = Buffer.allocUnsafe(count * frameSize);
  const payload = Buffer.from('x'.repeat(payloadSize - 5) + 'é€', 'utf8');
  for (let i = 0; i < count; i++) {
    const at = i * frameSize;
    stream[at] = 0x81;
    stream[at + 1] = 0x80 | payloadSize;
    stream.writeUInt32BE((i * 2654435761) >>> 0 || 1, at + 2);
    const body = stream.subarray(at + 6, at + 6 + payloadSize);
    payload.copy(body);
    applyMask(body, stream.subarray(at + 2, at + 6), 0);
  }
  return stream;
}

function chunks(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += size) out.push(Buffer.from(stream.subarray(at, at + size)));
  return out;
}

function mixedUtf8(size: number): Buffer {
  const sample = Buffer.from('plain ascii text, café, Ünïcödé, 中文字符, emoji 😀🚀, ');
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  while (at + sample.length <= size) at += sample.copy(out, at);
  out.fill(0x61, at);
  return out;
}

const rows: Array<{ case: string; unit: string; ours: number; ws: number }> = [];

// frames
{
  const count = 200_000;
  const stream = maskedTextFrames(count, 64);
  const ours = measure(() => chunks(stream, 65536), (reads) => {
    let received = 0;
    let length = 0;
    const engine = new ProtocolEngine({ role: Role.Server }, {
      textMessage: (text) => { received++; length += text.length; },
      binaryMessage: () => {},
      pong: () => {},
      error: (error) => { throw error; },
      closed: () => {},
    });
    for (const read of reads) engine.receive(read);
    if (received !== count || length === 0) throw new Error(`engine saw ${received} of ${count} messages`);
  });
  const theirs = measure(() => chunks(stream, 65536), (reads) => {
    let received = 0;
    let length = 0;
    const receiver = new Receiver({ isServer: true, maxPayload: 64 * 1024 * 1024 });
    receiver.on('message', (data: Buffer, isBinary: boolean) => { received++; if (!isBinary) length += data.toString().length; });
    receiver.on('error', (error: Error) => { throw error; });
    for (const read of reads) receiver.write(read);
    if (received !== count || length === 0) throw new Error(`ws saw ${received} of ${count} messages`);
  });
  rows.push({ case: 'parse masked 64-byte text frames', unit: 'frames/s', ours: count / ours, ws: count / theirs });
}

// unmask
{
  const size = 1024 * 1024;
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const payloads = 64;
  const ours = measure(() => Buffer.alloc(size, 0x5a), (data) => { for (let i = 0; i < payloads; i++) applyMask(data, key, 0); });
  const theirs = measure(() => Buffer.alloc(size, 0x5a), (data) => { for (let i = 0; i < payloads; i++) wsBufferUtil.unmask(data, key); });
  rows.push({ case: 'unmask 1 MiB payloads', unit: 'MB/s', ours: (payloads * size) / 1e6 / ours, ws: (payloads * size) / 1e6 / theirs });
}

// utf8
{
  const size = 1024 * 1024;
  const text = mixedUtf8(size);
  const passes = 64;
  const whole = measure(() => text, (data) => { for (let i = 0; i < passes; i++) if (!isValidUtf8(data)) throw new Error('invalid'); });
  const incremental = measure(() => text, (data) => {
    for (let i = 0; i < passes; i++) {
      const validator = new Utf8Validator();
      // As a large frame arrives: 64 KiB reads that cut characters.
      for (let at = 0; at < data.length; at += 65533) if (!validator.update(data, at, Math.min(at + 65533, data.length))) throw new Error('invalid');
      if (!validator.finish()) throw new Error('invalid');
    }
  });
  const theirs = measure(() => text, (data) => { for (let i = 0; i < passes; i++) if (!wsValidation.isValidUTF8(data)) throw new Error('invalid'); });
  const mb = (passes * size) / 1e6;
  rows.push({ case: 'validate 1 MiB mixed UTF-8 (whole)', unit: 'MB/s', ours: mb / whole, ws: mb / theirs });
  rows.push({ case: 'validate 1 MiB mixed UTF-8 (64 KiB reads)', unit: 'MB/s', ours: mb / incremental, ws: mb / theirs });
}

const format = (value: number) => (value >= 1e6 ? `${(value / 1e6).toFixed(2)}M` : value >= 1e3 ? `${(value / 1e3).toFixed(1)}k` : value.toFixed(0));
console.log(`wsthreads engine vs ws ${(require(join(wsRoot, 'package.json')) as { version: string }).version} (no native add-ons), Node ${process.versions.node}, median of ${Rounds} rounds`);
console.log('| case | unit | wsthreads | ws | ratio |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const row of rows) console.log(`| ${row.case} | ${row.unit} | ${format(row.ours)} | ${format(row.ws)} | ${(row.ours / row.ws).toFixed(2)}× |`);
