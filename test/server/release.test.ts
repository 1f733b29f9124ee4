/**
 * Resource release: after thousands of connections opened and closed (cleanly, refused, or
 * dropped mid-handshake), every registry, map and thread link on both sides of every pool
 * thread is empty again, and the owner holds no socket handle of theirs.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import test from 'ava';
import { connect, EchoHandlerUrl, startServer, until, upgradeRequest, within } from './support.ts';
import type { WebSocketServer } from '../../src/main/websocket-server.ts';

/** A masked Close with code 1000 and a zero key (so the payload reads as it is). */
const CloseFrame = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

type Ending = 'close' | 'refused' | 'dropped';

/** One connection, ended the way `ending` says; resolves once TCP has closed. */
function cycle(port: number, ending: Ending): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('close', () => resolve());
    socket.once('connect', () => {
      if (ending === 'dropped') {
        // Half a request, then gone.
        socket.write(upgradeRequest(port).slice(0, 30), () => socket.destroy());
        return;
      }
      socket.write(ending === 'refused' ? upgradeRequest(port, { 'Sec-WebSocket-Key': 'short' }) : upgradeRequest(port));
    });
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.startsWith('HTTP/1.1 101') && head.includes('\r\n\r\n')) socket.write(CloseFrame);
    });
  });
}

async function storm(port: number, count: number, concurrency: number): Promise<void> {
  const endings: Ending[] = ['close', 'close', 'close', 'refused', 'dropped'];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const index = next++;
      await cycle(port, endings[index % endings.length]!);
    }
  }));
}

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
}

async function assertEmpty(t: import('ava').ExecutionContext, server: WebSocketServer, links: number): Promise<void> {
  const expected = { connections: 0, pending: 0, poolConnections: 0, poolWaiting: 0, links, threadsStarting: 0, linkHeld: 0, workerHeld: 0 };
  // The last ends are still crossing the threads when the clients see TCP close: wait for them.
  await until(async () => JSON.stringify(await server.census()) === JSON.stringify(expected), 10_000, 'the server to hold nothing').catch(() => {});
  t.deepEqual(await server.census(), expected);
}

// With accept: 'owner' each socket is moved to its thread, and remade there (transferred-socket.ts).
for (const [workers, accept] of [[0, 'threads'], [2, 'threads'], [2, 'owner']] as const) {
  for (const mode of ['mirror', 'handler'] as const) {
    test.serial(`2,000 connections opened and ended leave nothing behind [workers: ${workers}, ${mode}${accept === 'owner' ? ', accept: owner' : ''}]`, async (t) => {
      const limits = { handshakeTimeout: 2000, accept };
      const server = await startServer(t, workers, mode === 'handler' ? { handler: EchoHandlerUrl, ...limits } : limits);
      if (mode === 'mirror') server.on('newConnection', () => server.nextPendingConnection());
      const handlesBefore = tcpHandles();
      await within(storm(server.serverPort(), 2000, 50), 60_000, '2,000 connection cycles');
      await assertEmpty(t, server, workers);
      await until(() => tcpHandles() === handlesBefore, 5000, 'the owner to hold no socket of theirs');
      t.is(tcpHandles(), handlesBefore);
    });
  }
}

test.serial('closeAllConnections closes handler-mode connections nobody on the owner listened to [workers: 2]', async (t) => {
  const server = await startServer(t, 2, { handler: EchoHandlerUrl });
  const clients = await Promise.all(Array.from({ length: 5 }, () => connect(t, server.serverUrl())));
  const closes = clients.map((client) => new Promise<number>((resolve) => client.once('close', (code) => resolve(code))));
  await until(() => server.connectionCount() === 5, 5000, 'five connections');
  await within(server.closeAllConnections(), 10_000, 'closeAllConnections');
  t.deepEqual(await within(Promise.all(closes), 10_000, 'the clients to see the close'), [1001, 1001, 1001, 1001, 1001]);
  await assertEmpty(t, server, 2);
});

for (const accept of ['threads', 'owner'] as const) {
  test.serial(`handler-mode connections nobody on the owner observes are only counted there: no record each; counts, closeAllConnections and the ends as for any [workers: 2, accept: ${accept}]`, async (t) => {
    const server = await startServer(t, 2, { handler: EchoHandlerUrl, accept });
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(t, server.serverUrl())));
    await until(() => server.connectionCount() === 100, 5000, 'a hundred connections counted');
    const counts = [...server.workerConnectionCounts().values()];
    t.is(counts.reduce((a, b) => a + b, 0), 100);
    // What the owner holds for them: nothing by connection, whether the threads accepted them
    // or the owner moved them there (its record of each goes once the thread counts it).
    const census = await server.census();
    t.is(census.connections, 0);
    t.is(census.poolConnections, 0);
    const closes = clients.map((client) => new Promise<number>((resolve) => client.once('close', (code) => resolve(code))));
    await within(server.closeAllConnections(), 10_000, 'closeAllConnections');
    t.is(server.connectionCount(), 0, 'closeAllConnections resolved after every end was counted');
    t.deepEqual(new Set(await within(Promise.all(closes), 10_000, 'the clients to see the close')), new Set([1001]));
    await assertEmpty(t, server, 2);
  });
}
