/**
 * Topics within one server, over real sockets and real threads, with `ws` clients: mirror mode
 * (owner-side sockets subscribe and publish) and handler mode (the built-in chat handler, whose
 * worker-local sockets do), each with `workers: 0` and `workers: 2`.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type WS from 'ws';
import type { WebSocketServer } from '../../src/main/websocket-server.ts';
import { WebSocket as WebSocketClass, type WebSocket } from '../../src/shared/connection/websocket.ts';
import { WebSocketError } from '../../src/shared/engine/errors.ts';
import { bothTransports, connect, startServer, until, upgradeRequest, within } from '../server/support.ts';

const ChatHandler = new URL('../../src/handlers/chat.ts', import.meta.url);

/** Every message `client` gets, as text (binary as `bin:` + hex), in order. */
function record(client: WS): string[] {
  const seen: string[] = [];
  client.on('message', (data: Buffer, isBinary) => seen.push(isBinary ? `bin:${data.toString('hex')}` : data.toString()));
  return seen;
}

/** Mirror mode: every connection subscribes to `room` and publishes what it receives there. */
function mirrorRoom(server: WebSocketServer, room: string): WebSocket[] {
  const sockets: WebSocket[] = [];
  server.on('newConnection', () => {
    const socket = server.nextPendingConnection()!;
    sockets.push(socket);
    socket.subscribe(room);
    socket.on('textMessageReceived', (text) => socket.publish(room, text));
    socket.on('binaryMessageReceived', (data) => socket.publish(room, data));
  });
  return sockets;
}

async function clients(t: ExecutionContext, url: string, count: number): Promise<WS[]> {
  const opened: WS[] = [];
  for (let i = 0; i < count; i++) opened.push(await connect(t, url));
  return opened;
}

bothTransports('mirror mode: a publish reaches every other subscriber once, in order, text and binary; the publisher is left out', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets = mirrorRoom(server, 'room');
  const members = await clients(t, server.serverUrl(), 6);
  await until(() => server.numSubscribers('room') === 6, 10_000, 'six subscribers');
  t.log(`members per thread: ${JSON.stringify([...server.workerConnectionCounts().values()])}`);
  const seen = members.map(record);
  const sent: string[] = [];
  for (let i = 0; i < 50; i++) {
    members[0]!.send(`m${i}`);
    sent.push(`m${i}`);
  }
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  members[0]!.send(bytes);
  sent.push(`bin:${bytes.toString('hex')}`);
  // From the server: to every subscriber, the first publisher included.
  await until(() => seen[1]!.length === sent.length, 10_000, 'the publishes to arrive');
  server.publish('room', 'end');
  for (let i = 1; i < members.length; i++) {
    await until(() => seen[i]!.length === sent.length + 1, 10_000, `member ${i}'s messages`);
    t.deepEqual(seen[i], [...sent, 'end']);
  }
  await until(() => seen[0]!.length === 1, 10_000, 'the server publish to reach the publisher');
  t.deepEqual(seen[0], ['end']);

  // Framed once per message, whatever the number of subscribers and threads.
  await until(() => server.pubsubStats().deliveries === sent.length * 5 + 6, 10_000, 'the delivery counters');
  const stats = server.pubsubStats();
  t.is(stats.framesBuilt, sent.length + 1);
  t.is(stats.topics, 1);
  t.is(stats.state, 'local');
  if (workers === 0) t.is(stats.threadPosts, 0);
  else t.true(stats.threadPosts > 0 && stats.threadPosts < stats.deliveries, JSON.stringify(stats));
});

bothTransports('subscribe, unsubscribe, isSubscribed, subscriptions and numSubscribers; a closed socket leaves its topics', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets: WebSocket[] = [];
  server.on('newConnection', () => sockets.push(server.nextPendingConnection()!));
  const [a, b, c] = await clients(t, server.serverUrl(), 3);
  await until(() => sockets.length === 3, 10_000, 'three sockets');
  const [sa, sb, sc] = sockets as [WebSocket, WebSocket, WebSocket];
  t.true(sa.subscribe('x'));
  t.false(sa.subscribe('x'));
  t.true(sa.subscribe('y'));
  t.true(sb.subscribe('y'));
  t.true(sc.subscribe('x'));
  t.deepEqual(sa.subscriptions(), ['x', 'y']);
  t.true(sa.isSubscribed('y'));
  t.false(sb.isSubscribed('x'));
  t.is(server.numSubscribers('x'), 2);
  t.is(server.numSubscribers('y'), 2);
  t.is(server.numSubscribers('z'), 0);
  t.deepEqual([...server.subscriberCounts()].sort(), [['x', 2], ['y', 2]]);
  t.throws(() => sa.subscribe(''), { message: /non-empty string/ });

  const seenA = record(a!);
  const seenB = record(b!);
  const seenC = record(c!);
  t.true(sa.unsubscribe('y'));
  t.false(sa.unsubscribe('y'));
  t.is(server.numSubscribers('y'), 1);
  server.publish('y', 'to y');
  server.publish('x', new Uint8Array([7, 8]));
  await until(() => seenB.length === 1 && seenC.length === 1 && seenA.length === 1, 10_000, 'the publishes');
  t.deepEqual(seenA, ['bin:0708']);
  t.deepEqual(seenB, ['to y']);
  t.deepEqual(seenC, ['bin:0708']);

  c!.close();
  await until(() => server.numSubscribers('x') === 1, 10_000, 'the closed socket to leave x');
  t.deepEqual(sc.subscriptions(), []);
  t.false(sc.subscribe('x'), 'a closed socket cannot subscribe');
  t.false(sc.publish('x', 'nothing'));
});

bothTransports('handler mode (the chat handler): a room per path, across threads, with numSubscribers from the workers', async (t, workers) => {
  const server = await startServer(t, workers, { handler: ChatHandler });
  const url = server.serverUrl();
  const roomA = await clients(t, `${url}/a`, 4);
  const roomB = await clients(t, `${url}/b`, 2);
  await until(() => server.numSubscribers('/a') === 4 && server.numSubscribers('/b') === 2, 10_000, 'the rooms to fill');
  const seenA = roomA.map(record);
  const seenB = roomB.map(record);
  for (let i = 0; i < 20; i++) roomA[1]!.send(`a${i}`);
  roomA[1]!.send(Buffer.from([1, 2, 3]));
  const expected = [...Array.from({ length: 20 }, (_, i) => `a${i}`), 'bin:010203'];
  for (const seen of seenA) await until(() => seen.length === expected.length, 10_000, 'room a');
  // Each member of the room gets the whole conversation, in order (the sender its own echo).
  for (const seen of seenA) t.deepEqual(seen, expected);
  server.publish('/b', 'to b');
  for (const seen of seenB) await until(() => seen.length === 1, 10_000, 'room b');
  for (const seen of seenB) t.deepEqual(seen, ['to b']);
  roomA[0]!.close();
  await until(() => server.numSubscribers('/a') === 3, 10_000, 'a member to leave');
  await until(() => server.pubsubStats().framesBuilt === expected.length + 1, 10_000, 'the frame counter');
  // Every member gone: no topic is left behind, on any thread.
  for (const client of [...roomA, ...roomB]) client.close();
  await until(() => server.subscriberCounts().size === 0, 10_000, 'every topic to empty');
});

bothTransports('a subscriber that reads nothing is closed with 1008 at its high-water mark, and the publish goes on for the others', async (t, workers) => {
  const server = await startServer(t, workers, { highWaterMark: 256 * 1024, closeTimeout: 500 });
  const sockets: WebSocket[] = [];
  server.on('newConnection', () => {
    const socket = server.nextPendingConnection()!;
    sockets.push(socket);
    socket.subscribe('feed');
  });
  const reader = await connect(t, server.serverUrl());
  const stalled = net.connect(server.serverPort(), '127.0.0.1');
  t.teardown(() => stalled.destroy());
  stalled.on('error', () => {});
  stalled.write(upgradeRequest(server.serverPort()));
  await until(() => server.numSubscribers('feed') === 2, 10_000, 'two subscribers');
  stalled.pause();
  const slow = sockets.find((socket) => socket.peerPort() === stalled.localPort)!;
  const slowEnded = within(new Promise<number>((resolve) => slow.once('disconnected', () => resolve(slow.closeCode()))), 15_000, 'the slow subscriber to be dropped');
  let received = 0;
  let bytes = 0;
  reader.on('message', (data: Buffer) => { received++; bytes += data.length; });
  const message = Buffer.alloc(64 * 1024, 0x61);
  const count = 200;
  // Paced by the reader, which stays well under the mark; the stalled one falls behind by all of it.
  for (let i = 0; i < count; i++) {
    server.publish('feed', message);
    await until(() => received >= i - 1, 10_000, `the reader to keep up (${i})`);
  }
  t.is(await slowEnded, 1008);
  await until(() => received === count, 15_000, 'every message to the reader');
  t.is(bytes, count * message.length);
  await until(() => server.numSubscribers('feed') === 1, 10_000, 'the slow subscriber to leave');
});

test('a client socket has no topics: subscribe and publish throw an Operation error', (t) => {
  const client = new WebSocketClass();
  t.throws(() => client.subscribe('x'), { instanceOf: WebSocketError, message: /belong to a WebSocketServer/ });
  t.throws(() => client.publish('x', 'y'), { instanceOf: WebSocketError });
  t.deepEqual(client.subscriptions(), []);
  t.false(client.isSubscribed('x'));
});

/** Opens clients one by one, noting the pool thread each lands on (from the server's per-thread counts). */
/**
 * Clients until each of the server's pool threads holds `perThread` of them (the threads accept,
 * and the kernel spreads connections by a hash: 40 at most), each with the thread it landed on.
 */
async function clientsByThread(t: ExecutionContext, server: WebSocketServer, perThread: number): Promise<Array<{ client: WS; threadId: number }>> {
  const placed: Array<{ client: WS; threadId: number }> = [];
  const enough = (): boolean => {
    const counts = [...server.workerConnectionCounts().values()];
    return counts.length > 0 && Math.min(...counts) >= perThread;
  };
  while (!enough() && placed.length < 40) {
    const before = server.workerConnectionCounts();
    const client = await connect(t, server.serverUrl());
    await until(() => server.connectionCount() === placed.length + 1, 10_000, 'the connection to count');
    const after = server.workerConnectionCounts();
    const threadId = [...after].find(([id, n]) => n > (before.get(id) ?? 0))![0];
    placed.push({ client, threadId });
  }
  return placed;
}

test('a pool thread that dies takes its subscribers out of the counts; the topic goes on for the other thread', async (t) => {
  const server = await startServer(t, 2, { handler: new URL('../fixtures/room-crash-handler.ts', import.meta.url) });
  const placed = await clientsByThread(t, server, 2);
  await until(() => server.numSubscribers('room') === placed.length, 10_000, 'every client subscribed');
  const doomed = placed[0]!.threadId;
  const onDoomed = placed.filter((entry) => entry.threadId === doomed).map((entry) => entry.client);
  const survivors = placed.filter((entry) => entry.threadId !== doomed).map((entry) => entry.client);
  t.log(`${onDoomed.length} on the failing thread, ${survivors.length} on the other`);
  t.true(onDoomed.length >= 2 && survivors.length >= 2, 'two or more clients on each thread');
  const closed = new Map<WS, number>();
  for (const { client } of placed) client.once('close', (code) => closed.set(client, code));
  // The first client's thread fails: its connections end, the other thread's do not.
  onDoomed[0]!.send('crash');
  await until(() => closed.size === onDoomed.length, 15_000, "the failing thread's clients to close");
  t.true(onDoomed.every((client) => closed.has(client)), "the failing thread's clients are those that closed");
  t.true([...closed.values()].every((code) => code === 1006));
  await until(() => server.numSubscribers('room') === survivors.length, 10_000, "the dead thread's subscribers to leave the count");
  const seen = survivors.map(record);
  server.publish('room', 'still here');
  for (const list of seen) await until(() => list.length === 1, 10_000, 'the survivors to get the publish');
  for (const list of seen) t.deepEqual(list, ['still here']);
  t.is(closed.size, onDoomed.length, 'no survivor closed');
});

/** A message of `size` bytes that compresses well and says who sent it: `<from>:<index>:` then JSON. */
function bigMessage(from: string, index: number, size = 6000): string {
  const head = `${from}:${index}:`;
  return head + JSON.stringify({ from, index, rows: Array.from({ length: size }, (_, i) => i % 10) }).slice(0, size - head.length);
}

/** The bytes `client` has read from its TCP connection so far (the wire, compressed or not). */
function wireBytesRead(client: WS): number {
  return (client as unknown as { _socket: net.Socket })._socket.bytesRead;
}

for (const mode of ['shared', 'dedicated'] as const) {
  bothTransports(`permessage-deflate (${mode}): a publish is compressed once for every subscriber that agreed it, and reads back whole between the socket's own compressed sends`, async (t, workers) => {
    const server = await startServer(t, workers, { perMessageDeflate: mode });
    const sockets = mirrorRoom(server, 'room');
    // Two clients with deflate (ws's default offer: context takeover both ways), one without.
    const deflating = [await connect(t, server.serverUrl()), await connect(t, server.serverUrl())];
    const plain = await connect(t, server.serverUrl(), undefined, { perMessageDeflate: false });
    await until(() => server.numSubscribers('room') === 3, 10_000, 'three subscribers');
    t.true(deflating.every((client) => client.extensions.startsWith('permessage-deflate')));
    t.is(plain.extensions, '');
    const seen = [...deflating, plain].map(record);
    const before = [...deflating, plain].map(wireBytesRead);
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      server.publish('room', bigMessage('server', i));
      expected.push(bigMessage('server', i));
      // Each socket's own message, compressed with its own context (kept between messages in
      // dedicated mode): it must not reach back into the publish before it, which its
      // compressor never saw.
      for (const socket of sockets) socket.sendTextMessage(bigMessage('direct', i, 3000));
    }
    const total = expected.length * 2;
    for (const list of seen) await until(() => list.length === total, 10_000, 'every message');
    for (const list of seen) {
      t.deepEqual(list.filter((text) => text.startsWith('server:')), expected, 'the publishes, whole and in order');
      t.deepEqual(list.filter((text) => text.startsWith('direct:')), Array.from({ length: 20 }, (_, i) => bigMessage('direct', i, 3000)), 'the direct sends, whole and in order');
    }
    const read = [...deflating, plain].map((client, i) => wireBytesRead(client) - before[i]!);
    // 180 KB of text: a few KB on the wire where compressed, all of it where not.
    t.true(read[2]! > 180_000, `plain client read ${read[2]} bytes`);
    for (const bytes of read.slice(0, 2)) t.true(bytes < read[2]! / 5, `deflate client read ${bytes} bytes, the plain one ${read[2]}`);
    // One plain and one compressed copy of each publish, for every subscriber on every thread.
    t.is(server.pubsubStats().framesBuilt, expected.length * 2);
    for (const client of seen.keys()) t.is([...deflating, plain][client]!.readyState, 1, 'still open: nothing failed to inflate');
  });
}

bothTransports('permessage-deflate (dedicated) in handler mode: the chat handler\'s publishes and each sender\'s own echo read back whole, on every member', async (t, workers) => {
  const server = await startServer(t, workers, { handler: ChatHandler, perMessageDeflate: 'dedicated' });
  const members = await clients(t, `${server.serverUrl()}/deflate`, 3);
  await until(() => server.numSubscribers('/deflate') === 3, 10_000, 'the room to fill');
  const seen = members.map(record);
  const names = ['a', 'b', 'c'];
  // The senders take turns: each member's stream mixes the others' publishes, compressed once
  // where they were published, with its own echo, compressed by its own context.
  for (let i = 0; i < 15; i++) members.forEach((member, m) => member.send(bigMessage(names[m]!, i)));
  for (const list of seen) await until(() => list.length === 45, 10_000, 'the whole conversation');
  for (const list of seen) {
    for (const name of names) t.deepEqual(list.filter((text) => text.startsWith(`${name}:`)), Array.from({ length: 15 }, (_, i) => bigMessage(name, i)));
  }
  await until(() => server.pubsubStats().framesBuilt === 45 * 2, 10_000, 'the frame counters');
});