/**
 * The writeDelay option: output waits up to that long so that what follows shares its write.
 * Five messages sent 20 ms apart reach a raw TCP client in one read with a 1000 ms delay (long
 * beside the 80 ms of sending, however loaded the machine) and in several without one, whether
 * the owner sends them or a handler in a pool thread; flush() does not wait; the setter checks
 * its value and reaches new connections.
 */
import type { ExecutionContext } from 'ava';
import test from 'ava';
import type net from 'node:net';
import type { WebSocketServer } from '../../src/main/websocket-server.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { clientFrame, decodeFrames } from '../helpers/frames.ts';
import { EchoHandlerUrl, bothTransports, rawUpgrade, startServer, upgradeRequest, within } from './support.ts';

/** A raw client on `server` and the owner's socket for it. */
async function rawClient(t: ExecutionContext, server: WebSocketServer): Promise<{ client: net.Socket; socket: WebSocket }> {
  const accepted = new Promise<WebSocket>((resolve) => server.once('newConnection', () => resolve(server.nextPendingConnection()!)));
  const { socket: client, status } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(status, 101);
  return { client, socket: await within(accepted, 10_000, 'newConnection') };
}

/** The client's reads until `frames` frames have arrived: each read's frame count, and when the first came. */
function readsOf(client: net.Socket, frames: number): Promise<{ reads: number[]; firstAt: number }> {
  return within(new Promise((resolve) => {
    const reads: number[] = [];
    let firstAt = 0;
    let seen = 0;
    client.on('data', (chunk: Buffer) => {
      if (reads.length === 0) firstAt = performance.now();
      const count = decodeFrames(chunk).length;
      reads.push(count);
      seen += count;
      if (seen >= frames) resolve({ reads, firstAt });
    });
  }), 10_000, `${frames} frames`);
}

async function sendPaced(socket: WebSocket, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    socket.sendTextMessage(`message ${i}`);
    // Paced, not awaited for anything: each send in a turn of its own, 20 ms after the last.
    if (i < count - 1) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return started;
}

bothTransports('with writeDelay 1000, five messages sent 20 ms apart leave in one write, no sooner than the delay', async (t, workers) => {
  const server = await startServer(t, workers, { writeDelay: 1000 });
  t.is(server.writeDelay(), 1000);
  const { client, socket } = await rawClient(t, server);
  const reads = readsOf(client, 5);
  const started = await sendPaced(socket, 5);
  const { reads: counts, firstAt } = await reads;
  t.deepEqual(counts, [5]);
  // Timers may fire a millisecond early; the write cannot come before the delay has nearly run.
  t.true(firstAt - started >= 990, `first bytes after ${(firstAt - started).toFixed(0)} ms`);
});

bothTransports('without writeDelay, the same five messages leave as they are sent, not in one write', async (t, workers) => {
  const server = await startServer(t, workers);
  t.is(server.writeDelay(), 0);
  const { client, socket } = await rawClient(t, server);
  const reads = readsOf(client, 5);
  await sendPaced(socket, 5);
  // Five writes 20 ms apart; a reader held up for longer may find two of them in one read.
  const counts = (await reads).reads;
  t.true(counts.length > 1, `reads: ${JSON.stringify(counts)}`);
  t.is(counts.reduce((sum, count) => sum + count, 0), 5);
});

bothTransports('flush() writes at once, whatever the delay', async (t, workers) => {
  const server = await startServer(t, workers, { writeDelay: 1000 });
  const { client, socket } = await rawClient(t, server);
  const reads = readsOf(client, 1);
  const started = performance.now();
  socket.sendTextMessage('now');
  await socket.flush();
  const { firstAt } = await reads;
  t.true(firstAt - started < 900, `first bytes after ${(firstAt - started).toFixed(0)} ms`);
});

bothTransports('setWriteDelay checks its value and reaches the connections made after it', async (t, workers) => {
  const server = await startServer(t, workers);
  for (const bad of [-1, 1001, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => server.setWriteDelay(bad), { instanceOf: InvalidArgumentError });
  }
  t.throws(() => new (server.constructor as typeof WebSocketServer)('bad', undefined, { workers: 0, writeDelay: 5000 }), { instanceOf: InvalidArgumentError });
  t.is(server.writeDelay(), 0);
  server.setWriteDelay(1000);
  const { client, socket } = await rawClient(t, server);
  const reads = readsOf(client, 3);
  await sendPaced(socket, 3);
  t.deepEqual((await reads).reads, [3]);
});

test('handler mode: the echoes of five messages sent 20 ms apart come back in one write with writeDelay 1000 [workers: 2]', async (t) => {
  const server = await startServer(t, 2, { handler: EchoHandlerUrl, writeDelay: 1000 });
  const { socket: client, status } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(status, 101);
  const reads = readsOf(client, 5);
  for (let i = 0; i < 5; i++) {
    client.write(clientFrame({ opcode: OpCode.Text, payload: `message ${i}` }));
    if (i < 4) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.deepEqual((await reads).reads, [5]);
});
