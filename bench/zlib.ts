/**
 * `npm run bench:zlib`: synchronous zlib on the connection's thread (what permessage-deflate
 * uses, src/shared/engine/raw-deflate.ts) against Node's asynchronous zlib (what ws uses), with
 * the work spread over worker threads as the pool spreads connections.
 *
 * Each of W worker threads plays C connections with context takeover both ways; each message is
 * compressed and then decompressed (a server's work for one compressed echo, minus the framing).
 * Async mode keeps every connection's message in flight at once, as a busy server would; its
 * zlib work runs on libuv's pool, which is per process (UV_THREADPOOL_SIZE, 4 by default) and
 * shared by every worker thread. CPU time is the whole process's (all threads, the pool's too).
 * Usage: npm run bench:zlib [-- --seconds 2 --workers 2 --connections 100]
 */
import { Buffer } from 'node:buffer';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import zlib from 'node:zlib';
import { clientPerMessageDeflate } from '../src/shared/engine/permessage-deflate.ts';

interface Job {
  mode: 'sync' | 'async';
  connections: number;
  milliseconds: number;
  level: number;
}

function messages(count: number): Buffer[] {
  return Array.from({ length: count }, (_, m) => {
    let text = `{"type":"update","seq":${m},"items":[`;
    for (let i = 0; text.length < 1024; i++) text += `{"id":${(m * 37 + i * 11) % 10007},"user":"u${(m + i) % 8}","score":${(m * 7919 + i) % 1000}},`;
    return Buffer.from(text.slice(0, 1024));
  });
}

async function runSync(job: Job): Promise<number> {
  const pool = messages(64);
  const factory = clientPerMessageDeflate({ threshold: 0, level: job.level });
  const answer = { name: 'permessage-deflate', params: {} };
  // One compressor and one decompressor per connection: both sides of a takeover stream.
  const sides = Array.from({ length: job.connections }, () => ({ out: factory.acceptAnswer(answer), in: factory.acceptAnswer(answer) }));
  let done = 0;
  const end = performance.now() + job.milliseconds;
  while (performance.now() < end) {
    for (const side of sides) {
      const encoded = side.out.encodeMessage(pool[done % pool.length]!);
      side.in.decodeMessage(encoded.payload, encoded.rsv, 64 * 1024 * 1024);
      done++;
    }
    // Let the thread breathe as an event loop would between reads.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return done;
}

function flushed(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => { chunks.push(chunk); };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

async function runAsync(job: Job): Promise<number> {
  const pool = messages(64);
  const tail = Buffer.from([0, 0, 0xff, 0xff]);
  let done = 0;
  const end = performance.now() + job.milliseconds;
  await Promise.all(Array.from({ length: job.connections }, async () => {
    const deflate = zlib.createDeflateRaw({ level: job.level });
    const inflate = zlib.createInflateRaw();
    while (performance.now() < end) {
      const compressed = await flushed(deflate, pool[done % pool.length]!);
      await flushed(inflate, Buffer.concat([compressed.subarray(0, -4), tail]));
      done++;
    }
    deflate.close();
    inflate.close();
  }));
  return done;
}

if (!isMainThread) {
  const job = workerData as Job;
  const done = job.mode === 'sync' ? await runSync(job) : await runAsync(job);
  parentPort!.postMessage(done);
} else {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, workers: { type: 'string', default: '2' }, connections: { type: 'string', default: '100' }, level: { type: 'string', default: '1' } } });
  const workers = Number(values.workers);
  const job = { connections: Number(values.connections), milliseconds: Number(values.seconds) * 1000, level: Number(values.level) };
  console.log(`zlib benchmark: Node ${process.versions.node}, ${availableParallelism()} cores, ${workers} worker threads × ${job.connections} connections, 1 KiB JSON-like, level ${job.level}, UV_THREADPOOL_SIZE ${process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)'}`);
  console.log('');
  console.log('| zlib | messages/s | messages/CPU-s |');
  console.log('| --- | ---: | ---: |');
  for (const mode of ['sync', 'async'] as const) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const counts = await Promise.all(Array.from({ length: workers }, () => new Promise<number>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { ...job, mode } satisfies Job });
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const total = counts.reduce((sum, n) => sum + n, 0);
    console.log(`| ${mode === 'sync' ? 'synchronous, on the worker' : 'asynchronous, libuv pool'} | ${Math.round(total / seconds)} | ${Math.round(total / ((used.user + used.system) / 1e6))} |`);
  }
}
