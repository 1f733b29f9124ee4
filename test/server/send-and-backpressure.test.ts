/**
 * What a send takes from its caller and what reading gives back to TCP, over real sockets in
 * every transport: a buffer is copied when sent (the caller may reuse it at once, the mirror
 * path included), and a paused socket pushes back on its peer until resumed, losing nothing.
 */
import { Buffer } from 'node:buffer';
import type WS from 'ws';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { bothTransports, connect, next, startServer, until, within } from './support.ts';

async function pair(t: Parameters<Parameters<typeof bothTransports>[1]>[0], workers: number): Promise<{ client: WS; socket: WebSocket }> {
  const server = await startServer(t, workers);
  const taken = new Promise<WebSocket>((resolve) => server.once('newConnection', () => resolve(server.nextPendingConnection()!)));
  const client = await connect(t, server.serverUrl());
  return { client, socket: await within(taken, 5000, 'the server socket') };
}

bothTransports('a sent buffer is the caller\'s again as soon as the send returns (it is copied)', async (t, workers) => {
  const { client, socket } = await pair(t, workers);
  const received: Buffer[] = [];
  const all = within(new Promise<void>((resolve) => client.on('message', (data: Buffer) => { if (received.push(data) === 3) resolve(); })), 5000, 'three messages');
  const reused = Buffer.alloc(100 * 1024);
  for (const fill of [1, 2, 3]) {
    reused.fill(fill);
    t.is(socket.sendBinaryMessage(reused), reused.length);
  }
  reused.fill(9);
  await all;
  t.deepEqual(received.map((data) => [data.length, data[0], data.at(-1)]), [[102_400, 1, 1], [102_400, 2, 2], [102_400, 3, 3]]);
  // A small one, which the mirror path copies into its own command batch.
  const small = Buffer.from('abc');
  const reply = next<[Buffer]>(client, 'message');
  socket.sendBinaryMessage(small);
  small.fill(0);
  t.is(String((await reply)[0]), 'abc');
});

bothTransports('a paused server socket pushes back on the client through TCP, and resume delivers everything in order', async (t, workers) => {
  const { client, socket } = await pair(t, workers);
  const received: number[] = [];
  socket.on('binaryMessageReceived', (data) => received.push(data.readUInt32BE(0)));
  socket.pauseReading();
  const chunk = Buffer.alloc(1024 * 1024);
  const count = 64;
  for (let i = 0; i < count; i++) {
    chunk.writeUInt32BE(i, 0);
    client.send(chunk);
  }
  // The kernel's buffers fill and the rest waits in the client: that is the backpressure.
  await until(() => client.bufferedAmount > 8 * 1024 * 1024, 10_000, 'the client to hold unsent bytes');
  t.true(received.length < count, `${received.length} of ${count} delivered while paused`);
  const whilePaused = received.length;
  socket.resumeReading();
  await until(() => received.length === count, 20_000, 'every message after resume');
  t.deepEqual(received, Array.from({ length: count }, (_, i) => i));
  t.true(whilePaused < count);
});
