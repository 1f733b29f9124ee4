import test from 'ava';
import type WS from 'ws';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import {
  bothTransports,
  connect,
  echoEveryConnection,
  inBatches,
  nextMessage,
  startServer,
  until,
  within,
} from './support.ts';

// Heavy tests run one at a time so that their bounds do not depend on each other's load.

bothTransports('1,000 concurrent connections are all counted on the pool threads, and every one is served', async (t, workers) => {
  const server = await startServer(t, workers, { maxPendingConnections: 2000 });
  const sockets = echoEveryConnection(server);
  const clients = await within(inBatches(1000, 100, () => connect(t, server.serverUrl())), 60_000, '1,000 connections');
  t.is(clients.length, 1000);
  // A client may see its 101 a moment before the owner hears of the upgrade from the thread.
  await until(() => server.connectionCount() === 1000, 10_000, 'the server to count 1,000 connections');

  const counts = server.workerConnectionCounts();
  const perThread = [...counts.values()];
  t.is(perThread.reduce((a, b) => a + b, 0), 1000);
  if (workers === 0) {
    t.deepEqual([...counts], [[0, 1000]]);
  } else {
    t.is(counts.size, workers, `one entry per pool thread: ${JSON.stringify([...counts])}`);
    t.false(counts.has(0), 'no connection on the owner thread');
    // How evenly Piscina spreads them is reported, not asserted (it depends on the load beside us).
    t.log(`connections per thread: ${JSON.stringify([...counts])}`);
  }

  // Every connection works.
  await inBatches(1000, 200, async (i) => {
    const reply = nextMessage(clients[i]!, 20_000);
    clients[i]!.send(`hello ${i}`);
    t.is((await reply)[0].toString(), `hello ${i}`);
  });

  await within(server.closeAllConnections(), 30_000, 'closing every connection');
  t.is(server.connectionCount(), 0);
  t.true(sockets.every((socket) => socket.closeCode() === 1001));
}, true);

bothTransports('100 connections × 1,000 messages each arrive complete and in order, both ways', async (t, workers) => {
  const server = await startServer(t, workers, { maxPendingConnections: 200 });
  const received = new Map<WebSocket, number>();
  let outOfOrder = 0;
  echoEveryConnection(server, (socket) => {
    received.set(socket, 0);
    socket.on('textMessageReceived', (text) => {
      const expected = received.get(socket)!;
      if (text !== `${expected}`) outOfOrder++;
      received.set(socket, expected + 1);
    });
  });
  const clients = await within(inBatches(100, 50, () => connect(t, server.serverUrl())), 30_000, '100 connections');

  await within(Promise.all(clients.map((client) => new Promise<void>((resolve, reject) => {
    let next = 0;
    client.on('message', (data) => {
      if (data.toString() !== `${next}`) reject(new Error(`expected ${next}, got ${data.toString()}`));
      next++;
      if (next === 1000) resolve();
    });
    for (let i = 0; i < 1000; i++) client.send(`${i}`);
  }))), 60_000, '100,000 echoes');

  t.is(outOfOrder, 0);
  t.is([...received.values()].reduce((a, b) => a + b, 0), 100_000);
  if (workers > 0) {
    // Every message crossed as a signal and its reply as a command; how well they were batched
    // is a figure for the benchmarks, reported here, not asserted.
    const stats = server.threadTrafficStats();
    t.true(stats.signalEvents >= 100_000, `signal events ${stats.signalEvents}`);
    t.true(stats.signalCalls > 0 && stats.commandCalls > 0);
    t.log(`thread traffic: ${JSON.stringify(stats)}`);
  } else {
    t.deepEqual(server.threadTrafficStats(), { signalCalls: 0, signalEvents: 0, commandCalls: 0 }, 'nothing crosses threads');
  }
}, true);

test.serial('a burst of messages on one connection crosses the threads, its batching reported [workers: 2]', async (t) => {
  const server = await startServer(t, 2);
  const sockets = echoEveryConnection(server);
  const client: WS = await connect(t, server.serverUrl());
  const before = server.threadTrafficStats();
  let count = 0;
  const all = within(new Promise<void>((resolve) => client.on('message', () => { if (++count === 2000) resolve(); })), 20_000, 'the echoes');
  for (let i = 0; i < 2000; i++) client.send('x'.repeat(64));
  await all;
  const after = server.threadTrafficStats();
  const calls = after.signalCalls - before.signalCalls;
  const events = after.signalEvents - before.signalEvents;
  t.true(events >= 2000);
  t.true(calls >= 1);
  t.log(`2,000 messages: ${calls} signal calls (${(events / calls).toFixed(0)} events per call), ${after.commandCalls - before.commandCalls} command calls`);
  t.is(sockets.length, 1);
});
