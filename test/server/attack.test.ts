/**
 * Hostile or merely bursty clients over real sockets, bounded in count and time, each beside an
 * innocent client that must be served throughout.
 */
import { Buffer } from 'node:buffer';
import type net from 'node:net';
import WS from 'ws';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { clientFrame, decodeFrames } from '../helpers/frames.ts';
import { bothTransports, connect, echoEveryConnection, inBatches, nextMessage, rawUpgrade, refusalStatus, startServer, until, upgradeRequest, within } from './support.ts';

/** The status a `ws` client's upgrade gets: 101 when it opens, the HTTP status otherwise. */
function upgradeStatus(url: string): Promise<{ status: number; client: WS | undefined }> {
  const client = new WS(url);
  return within(new Promise((resolve) => {
    client.once('open', () => resolve({ status: 101, client }));
    client.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, client: undefined });
      response.resume();
      client.terminate();
    });
    client.once('error', () => resolve({ status: 0, client: undefined }));
  }), 15_000, 'an upgrade');
}

async function innocentEcho(client: WS, text: string): Promise<string> {
  const reply = nextMessage(client);
  client.send(text);
  return (await reply)[0].toString();
}

bothTransports('100 concurrent handshakes all get 101 when the application takes every connection (no 503 from handshakes in flight)', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const innocent = await connect(t, server.serverUrl());
  const results = await Promise.all(Array.from({ length: 100 }, () => upgradeStatus(server.serverUrl())));
  for (const { client } of results) client?.terminate();
  t.deepEqual(results.filter(({ status }) => status !== 101).map(({ status }) => status), []);
  t.is(await innocentEcho(innocent, 'served throughout'), 'served throughout');
  t.false(server.hasPendingConnections());
});

bothTransports('concurrent upgrades at maxPendingConnections: exactly the room is accepted, the rest get 503, none hangs', async (t, workers) => {
  const server = await startServer(t, workers, { maxPendingConnections: 3 });
  const results = await Promise.all(Array.from({ length: 8 }, () => upgradeStatus(server.serverUrl())));
  t.teardown(() => { for (const { client } of results) client?.terminate(); });
  t.is(results.filter(({ status }) => status === 101).length, 3);
  t.is(results.filter(({ status }) => status === 503).length, 5);
  await until(() => server.hasPendingConnections(), 5000, 'the accepted ones to wait in the queue');
  // Taking one makes room for exactly one more.
  const taken = server.nextPendingConnection()!;
  t.truthy(taken);
  const again = await inBatches(2, 2, () => upgradeStatus(server.serverUrl()));
  t.teardown(() => { for (const { client } of again) client?.terminate(); });
  t.deepEqual(again.map(({ status }) => status).sort(), [101, 503]);
  t.is(await refusalStatus(server.serverUrl()), 503);
});

/** A raw upgraded client, for what `ws` would never send. */
async function rawClient(t: Parameters<Parameters<typeof bothTransports>[1]>[0], port: number): Promise<net.Socket> {
  const { socket, status } = await rawUpgrade(t, port, upgradeRequest(port));
  t.is(status, 101);
  socket.resume();
  return socket;
}

/** Writes `frames` in chunks, waiting for the socket to drain between them (TCP backpressure on us). */
async function flood(socket: net.Socket, frame: Buffer, count: number): Promise<void> {
  const perWrite = Math.max(1, Math.floor(64 * 1024 / frame.length));
  const chunk = Buffer.concat(Array.from({ length: perWrite }, () => frame));
  for (let sent = 0; sent < count && !socket.destroyed; sent += perWrite) {
    if (!socket.write(chunk)) await within(new Promise((resolve) => socket.once('drain', resolve)), 20_000, 'the flood to drain');
  }
}

bothTransports('200,000 unsolicited Pongs with no pong listener: none crosses the threads, and an innocent client is served throughout', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const innocent = await connect(t, server.serverUrl());
  const attacker = await rawClient(t, server.serverPort());
  await until(() => server.connectionCount() === 2, 5000, 'both connections');
  const before = server.threadTrafficStats().signalEvents;
  const flooding = flood(attacker, clientFrame({ opcode: OpCode.Pong, payload: 'unasked' }), 200_000);
  let served = 0;
  while (served < 20) t.is(await innocentEcho(innocent, `during ${served++}`), `during ${served - 1}`);
  await flooding;
  t.is(await innocentEcho(innocent, 'after'), 'after');
  const crossed = server.threadTrafficStats().signalEvents - before;
  // The innocent client's 21 messages crossed (and maybe a lifecycle signal); no Pong did.
  t.true(crossed < 100, `${crossed} signals crossed for 200,000 pongs`);
});

bothTransports('a greedy client sending 50,000 small messages is echoed in full while an innocent client is served', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const innocent = await connect(t, server.serverUrl());
  const greedy = await connect(t, server.serverUrl());
  let echoed = 0;
  const allEchoed = within(new Promise<void>((resolve) => greedy.on('message', () => { if (++echoed === 50_000) resolve(); })), 60_000, 'the greedy echoes');
  const payload = Buffer.alloc(16, 0x61);
  for (let i = 0; i < 50_000; i++) greedy.send(payload);
  let served = 0;
  while (echoed < 50_000 && served < 50) t.is(await innocentEcho(innocent, `turn ${served}`), `turn ${served++}`);
  await allEchoed;
  t.true(served >= 1);
  t.is(await innocentEcho(innocent, 'after'), 'after');
});

bothTransports('a message of 500 one-byte fragments, each in a read of its own, arrives whole; an innocent client is served', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const innocent = await connect(t, server.serverUrl());
  const attacker = await rawClient(t, server.serverPort());
  const received: Buffer[] = [];
  let bytes = 0;
  let waiter: { bytes: number; resolve: () => void } | undefined;
  attacker.on('data', (chunk: Buffer) => {
    received.push(chunk);
    bytes += chunk.length;
    if (waiter !== undefined && bytes >= waiter.bytes) waiter.resolve();
  });
  /** Until `count` bytes have come back (an empty Pong is 2 bytes). */
  const receivedBytes = (count: number): Promise<void> => bytes >= count ? Promise.resolve()
    : within(new Promise<void>((resolve) => { waiter = { bytes: count, resolve }; }), 5000, `${count} bytes back`);
  const fragments = 500;
  for (let i = 0; i < fragments; i++) {
    const opcode = i === 0 ? OpCode.Text : OpCode.Continuation;
    attacker.write(Buffer.concat([clientFrame({ opcode, fin: i === fragments - 1, payload: 'x' }), clientFrame({ opcode: OpCode.Ping })]));
    // One fragment per read: the next goes only once this one's Ping was answered.
    await receivedBytes(2 * (i + 1));
    if (i % 125 === 0) t.is(await innocentEcho(innocent, `at ${i}`), `at ${i}`);
  }
  await receivedBytes(2 * fragments + 4 + fragments);
  const frames = decodeFrames(Buffer.concat(received));
  t.is(frames.filter((frame) => frame.opcode === OpCode.Pong).length, fragments);
  t.is(frames.find((frame) => frame.opcode === OpCode.Text)?.payload.toString(), 'x'.repeat(fragments));
});

bothTransports('50 frames that declare 60 MiB and send 1 KiB reserve nothing up front, and stall out with 1001', async (t, workers) => {
  const server = await startServer(t, workers, { frameTimeout: 300 });
  echoEveryConnection(server);
  const innocent = await connect(t, server.serverUrl());
  const before = process.memoryUsage().arrayBuffers;
  const attackers = await inBatches(50, 10, () => rawClient(t, server.serverPort()));
  const closes = attackers.map((socket) => {
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
    return within(new Promise<number>((resolve) => socket.once('close', () => {
      const close = decodeFrames(received).find((frame) => frame.opcode === OpCode.Close);
      resolve(close === undefined ? 0 : close.payload.readUInt16BE(0));
    })), 10_000, 'the stalled frame to be closed');
  });
  const header = clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(60 * 1024 * 1024) }).subarray(0, 14 + 1024);
  for (const socket of attackers) socket.write(header);
  t.is(await innocentEcho(innocent, 'beside 3 GiB declared'), 'beside 3 GiB declared');
  if (workers === 0) {
    // On this thread: 50 × 60 MiB reserved up front would show here as 3 GiB.
    const grown = process.memoryUsage().arrayBuffers - before;
    t.true(grown < 512 * 1024 * 1024, `${grown} bytes of array buffers for 50 KiB received`);
  }
  t.deepEqual([...new Set(await Promise.all(closes))], [CloseCode.GoingAway]);
  t.is(await innocentEcho(innocent, 'after'), 'after');
});
