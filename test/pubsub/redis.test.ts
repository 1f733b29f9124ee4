/**
 * Topics across processes over a real `redis-server`: two `wsthreads serve --chat --redis`
 * processes sharing a room, Redis stopped and started under them, a burst of 10,000 messages; and
 * the library's `pubsub` option with two servers in one process.
 */
import test from 'ava';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type WS from 'ws';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { startCli, type CliProcess } from '../helpers/wsthreads-cli.ts';
import { startRedis, type RedisProcess } from '../helpers/redis.ts';
import { connect, until, within } from '../server/support.ts';

const STARTUP_MS = 15_000;

function portOf(serve: CliProcess): number {
  const match = /^wsthreads listening on ws:\/\/127\.0\.0\.1:(\d+) /.exec(serve.firstLine);
  if (match === null) throw new Error(`unexpected first line ${JSON.stringify(serve.firstLine)}`);
  return Number(match[1]);
}

async function redisFor(t: import('ava').ExecutionContext): Promise<{ redis: RedisProcess; inspect: Redis }> {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  // The test's own look at Redis: which channels have how many subscribers.
  const inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  inspect.on('error', () => {});
  t.teardown(() => inspect.disconnect());
  return { redis, inspect };
}

async function subscribersInRedis(inspect: Redis, channel: string): Promise<number> {
  try {
    const reply = await inspect.pubsub('NUMSUB', channel) as [string, number];
    return Number(reply[1]);
  } catch {
    return -1;
  }
}

async function untilAsync(condition: () => Promise<boolean>, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting until ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every message `client` gets, text as is and binary as `bin:` + hex. */
function record(client: WS): string[] {
  const seen: string[] = [];
  client.on('message', (data: Buffer, isBinary) => seen.push(isBinary ? `bin:${data.toString('hex')}` : data.toString()));
  return seen;
}

/**
 * Until Redis has the far server's subscription a message may not cross: `probe` until one
 * does, then a 'go' (sent the same way) marks where the probes end; `seen` is emptied up to it.
 */
async function spanning(probe: (text?: string) => void, seen: string[]): Promise<void> {
  await until(() => { probe(); return seen.includes('probe'); }, 10_000, 'the topic to span both servers');
  probe('go');
  await until(() => seen.includes('go'), 10_000, 'the probes to end');
  seen.splice(0, seen.indexOf('go') + 1);
}

async function serveChat(t: import('ava').ExecutionContext, redisUrl: string, workers: number): Promise<{ serve: CliProcess; url: string }> {
  const serve = await startCli(['serve', '--port', '0', '--workers', String(workers), '--chat', '--no-page', '--redis', redisUrl], STARTUP_MS);
  t.teardown(() => serve.kill());
  await until(() => serve.stderr().includes('redis connected'), 10_000, 'serve to connect to Redis');
  return { serve, url: `ws://127.0.0.1:${portOf(serve)}` };
}

test.serial('two serve --chat processes share a room over Redis: each message once everywhere, binary byte for byte; Redis restarted mid-test', async (t) => {
  const { redis, inspect } = await redisFor(t);
  const a = await serveChat(t, redis.url, 2);
  const b = await serveChat(t, redis.url, 0);
  t.is(await subscribersInRedis(inspect, 'wsthreads:/room'), 0, 'no local subscriber, no subscription in Redis');
  const [a1, a2, b1] = [await connect(t, `${a.url}/room`), await connect(t, `${a.url}/room`), await connect(t, `${b.url}/room`)];
  const other = await connect(t, `${b.url}/other`);
  await untilAsync(async () => await subscribersInRedis(inspect, 'wsthreads:/room') === 2, 10_000, 'both servers to subscribe /room');
  // Each subscription reaches Redis on its own: wait for the second room's too.
  await untilAsync(async () => await subscribersInRedis(inspect, 'wsthreads:/other') === 1, 10_000, 'one server to subscribe /other');
  t.is(await subscribersInRedis(inspect, 'wsthreads:/other'), 1);
  const [seenA1, seenA2, seenB1, seenOther] = [record(a1), record(a2), record(b1), record(other)];
  // A handler's subscription reaches the server's other threads with its thread's next turn:
  // probes from both servers go round until each member has one of each, then a marker from
  // each ends them (a sender's messages keep their order), and what came up to there is dropped.
  await until(() => {
    a1.send('probe-a');
    b1.send('probe-b');
    return [seenA1, seenA2, seenB1].every((seen) => seen.includes('probe-a') && seen.includes('probe-b'));
  }, 10_000, 'the room to span every thread of both servers');
  a1.send('go-a');
  b1.send('go-b');
  for (const seen of [seenA1, seenA2, seenB1]) {
    await until(() => seen.includes('go-a') && seen.includes('go-b'), 10_000, 'the markers');
    seen.splice(0, Math.max(seen.indexOf('go-a'), seen.indexOf('go-b')) + 1);
  }

  a1.send('hello');
  const bytes = randomBytes(1000);
  b1.send(bytes);
  const expected = ['hello', `bin:${bytes.toString('hex')}`];
  for (const seen of [seenA1, seenA2, seenB1]) await until(() => seen.length >= 2, 10_000, 'the two messages');
  // Nothing more comes: a marker sent last arrives right behind them.
  a2.send('marker');
  for (const seen of [seenA1, seenA2, seenB1]) await until(() => seen.includes('marker'), 10_000, 'the marker');
  for (const seen of [seenA1, seenA2, seenB1]) t.deepEqual([...seen].filter((m) => m !== 'marker').sort(), [...expected].sort(), JSON.stringify(seen));
  t.deepEqual(seenOther, []);

  // Redis goes away: each server says so, and local delivery goes on.
  await redis.stop();
  await until(() => a.serve.stderr().includes('redis reconnecting') && b.serve.stderr().includes('redis reconnecting'), 10_000, 'both servers to see Redis gone');
  seenA2.length = 0;
  seenB1.length = 0;
  a1.send('while down');
  await until(() => seenA2.includes('while down'), 10_000, 'local delivery while Redis is down');

  // Back: both reconnect (with backoff) and subscribe again.
  const connectedBefore = [a, b].map((s) => s.serve.stderr().split('redis connected').length);
  await redis.start();
  await until(() => [a, b].every((s, i) => s.serve.stderr().split('redis connected').length > connectedBefore[i]!), 15_000, 'both servers to reconnect');
  await untilAsync(async () => await subscribersInRedis(inspect, 'wsthreads:/room') === 2, 10_000, 'both servers to subscribe /room again');
  a1.send('after');
  await until(() => seenB1.length > 0, 10_000, 'a message across again');
  // What was published while Redis was down stays local: it is not replayed.
  t.deepEqual(seenB1, ['after']);
});

test.serial('a burst of 10,000 messages from one process arrives complete and in order in the other', async (t) => {
  const { redis } = await redisFor(t);
  const a = await serveChat(t, redis.url, 2);
  const b = await serveChat(t, redis.url, 2);
  const sender = await connect(t, `${a.url}/burst`);
  const receiver = await connect(t, `${b.url}/burst`);
  const seen = record(receiver);
  await spanning((text = 'probe') => sender.send(text), seen);
  const count = 10_000;
  for (let i = 0; i < count; i++) sender.send(String(i));
  await until(() => seen.length >= count, 30_000, `${count} messages`);
  t.is(seen.length, count);
  t.true(seen.every((message, i) => message === String(i)), 'in order, none missing or doubled');
});

test.serial('the pubsub option: two servers in one process, server.publish across them byte for byte, the state signal', async (t) => {
  const { redis } = await redisFor(t);
  const servers: WebSocketServer[] = [];
  const states: string[][] = [];
  for (let i = 0; i < 2; i++) {
    const server = new WebSocketServer('wsthreads-test', undefined, { workers: i === 0 ? 2 : 0, pubsub: { redis: redis.url, maxReconnectDelayMs: 200 } });
    const seen: string[] = [];
    states.push(seen);
    server.on('pubsubStateChanged', (state) => seen.push(state));
    t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
    t.true(await server.listen('127.0.0.1', 0));
    server.on('newConnection', () => server.nextPendingConnection()!.subscribe('news'));
    servers.push(server);
  }
  await until(() => servers.every((server) => server.pubsubState() === 'connected'), 10_000, 'both servers to connect');
  const [here, there] = [await connect(t, servers[0]!.serverUrl()), await connect(t, servers[1]!.serverUrl())];
  await until(() => servers.every((server) => server.numSubscribers('news') === 1), 10_000, 'a subscriber on each');
  const [seenHere, seenThere] = [record(here), record(there)];
  const payload = randomBytes(70_000);
  await spanning((text = 'probe') => servers[0]!.publish('news', text), seenThere);
  await until(() => seenHere.at(-1) === 'go', 10_000, 'the probes here');
  seenHere.length = 0;
  servers[0]!.publish('news', payload);
  servers[0]!.publish('news', 'text after');
  for (const seen of [seenHere, seenThere]) await until(() => seen.length === 2, 10_000, 'both messages');
  for (const seen of [seenHere, seenThere]) t.deepEqual(seen, [`bin:${payload.toString('hex')}`, 'text after']);
  const stats = servers[1]!.pubsubStats();
  t.is(stats.redis?.rejected, 0);
  t.true((stats.redis?.received ?? 0) >= 2);
  t.deepEqual(states[0]!.slice(0, 1), ['connected']);

  await redis.stop();
  await until(() => servers.every((server) => server.pubsubState() === 'reconnecting'), 10_000, 'both to see Redis gone');
  await redis.start();
  await until(() => servers.every((server) => server.pubsubState() === 'connected'), 10_000, 'both to reconnect');
  t.deepEqual(states[1], ['connected', 'reconnecting', 'connected']);
});

test.serial('with Redis unreachable from the start, topics work locally, the state says so, and destroy ends the retries', async (t) => {
  const { redis } = await redisFor(t);
  await redis.stop();
  const server = new WebSocketServer('wsthreads-test', undefined, { workers: 0, pubsub: { redis: redis.url, maxReconnectDelayMs: 100 } });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  t.true(await server.listen('127.0.0.1', 0));
  server.on('newConnection', () => server.nextPendingConnection()!.subscribe('t'));
  const client = await connect(t, server.serverUrl());
  await until(() => server.numSubscribers('t') === 1, 10_000, 'the subscriber');
  const seen = record(client);
  server.publish('t', 'local only');
  await until(() => seen.length === 1, 10_000, 'local delivery');
  t.deepEqual(seen, ['local only']);
  t.is(server.pubsubState(), 'connecting');
  t.is(server.pubsubStats().redis?.dropped, 1);
  await within(server.destroy(), 10_000, 'destroy with Redis away');
  t.is(server.pubsubState(), 'closed');
});
