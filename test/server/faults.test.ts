import { Buffer } from 'node:buffer';
import test from 'ava';
import type WS from 'ws';
import { ServerDefaults, type WebSocketServer } from '../../src/main/websocket-server.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { SocketError, type WebSocketError } from '../../src/shared/engine/errors.ts';
import { State } from '../../src/shared/engine/state.ts';
import {
  EchoHandlerUrl,
  bothTransports,
  closeOf,
  connect,
  echoEveryConnection,
  inBatches,
  next,
  nextMessage,
  rawUpgrade,
  socketClosed,
  startServer,
  until,
  upgradeRequest,
  within,
} from './support.ts';

interface Tracked {
  client: WS;
  threadId: number;
  owner: WebSocket;
}

/** `count` clients of a handler-mode server, each with its thread and the owner's lifecycle socket. */
async function trackedClients(t: import('ava').ExecutionContext, server: WebSocketServer, count: number): Promise<Tracked[]> {
  const owners: WebSocket[] = [];
  server.on('newConnection', (socket) => owners.push(socket!));
  const clients = await inBatches(count, 10, () => connect(t, server.serverUrl()));
  await until(() => owners.length === count, 5000, 'the owner to see every connection');
  return Promise.all(clients.map(async (client) => {
    const reply = nextMessage(client);
    client.send('thread');
    const threadId = Number((await reply)[0].toString().split(':')[1]);
    const port = (client as unknown as { _socket: { localPort: number } })._socket.localPort;
    return { client, threadId, owner: owners.find((socket) => socket.peerPort() === port)! };
  }));
}

test.serial('a pool thread runs with the default young generation, and with the limits the server was given [workers: 1]', async (t) => {
  const limitsOf = async (server: WebSocketServer): Promise<Record<string, number>> => {
    const client = await connect(t, server.serverUrl());
    const reply = nextMessage(client);
    client.send('limits');
    return JSON.parse((await reply)[0].toString()) as Record<string, number>;
  };
  const plain = await limitsOf(await startServer(t, 1, { handler: EchoHandlerUrl }));
  t.is(plain.maxYoungGenerationSizeMb, ServerDefaults.workerMaxYoungGenerationSizeMb);
  const given = await limitsOf(await startServer(t, 1, { handler: EchoHandlerUrl, workerResourceLimits: { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: 64 } }));
  t.is(given.maxYoungGenerationSizeMb, 32);
  t.is(given.maxOldGenerationSizeMb, 64);
});

for (const [trigger, what] of [['exit', 'calls process.exit'], ['throw', 'throws'], ['oom', 'runs out of memory']] as const) {
  test.serial(`a thread whose handler ${what} takes only its own connections: 1006 on both ends, the rest untouched, new connections served [workers: 2]`, async (t) => {
    const server = await startServer(t, 2, { handler: EchoHandlerUrl, minWorkers: 2, workerResourceLimits: { maxOldGenerationSizeMb: 64 } });
    const tracked = await trackedClients(t, server, 20);
    const threads = new Set(tracked.map((entry) => entry.threadId));
    t.is(threads.size, 2, 'both threads hold connections');
    const victimThread = tracked[0]!.threadId;
    const victims = tracked.filter((entry) => entry.threadId === victimThread);
    const survivors = tracked.filter((entry) => entry.threadId !== victimThread);

    const ownerErrors = victims.map((entry) => next<[WebSocketError]>(entry.owner, 'errorOccurred', 10_000));
    const ownerDisconnects = victims.map((entry) => next(entry.owner, 'disconnected', 10_000));
    const clientCloses = victims.map((entry) => closeOf(entry.client));
    const threadLost = within(new Promise<WebSocketError>((resolve) => {
      server.on('serverError', (_code, error) => { if (error.kind === SocketError.WorkerExited) resolve(error); });
    }), 10_000, 'serverError for the dead thread');
    tracked[0]!.client.send(trigger);
    // The server says which thread died, and why.
    const lost = await threadLost;
    t.is(lost.closeCode, CloseCode.AbnormalDisconnection);
    t.true(lost.message.includes(`thread ${victimThread} died: `), lost.message);

    for (const [code] of await Promise.all(clientCloses)) t.is(code, CloseCode.AbnormalDisconnection);
    await Promise.all(ownerDisconnects);
    for (const [error] of await Promise.all(ownerErrors)) {
      t.is(error.kind, SocketError.WorkerExited);
      t.is(error.closeCode, CloseCode.AbnormalDisconnection);
    }
    for (const { owner } of victims) {
      t.is(owner.closeCode(), CloseCode.AbnormalDisconnection);
      t.is(owner.state(), State.Unconnected);
    }

    // The other thread's connections did not notice.
    for (const { client, owner } of survivors) {
      const reply = nextMessage(client);
      client.send('still here');
      t.is((await reply)[0].toString(), 'still here');
      t.is(owner.state(), State.Connected);
    }

    // The pool replaced the thread, and new connections are served.
    await until(() => server.workerConnectionCounts().size === 2 && !server.workerConnectionCounts().has(victimThread), 10_000, 'a replacement thread');
    const fresh = await connect(t, server.serverUrl());
    const reply = nextMessage(fresh);
    fresh.send('after the crash');
    t.is((await reply)[0].toString(), 'after the crash');

    // Nothing is left behind for the dead thread's connections.
    await until(() => server.connectionCount() === survivors.length + 1, 5000, 'the count of live connections');
    const counts = server.workerConnectionCounts();
    t.is([...counts.values()].reduce((a, b) => a + b, 0), survivors.length + 1);
  });
}

bothTransports('in handler mode the handler echoes in the thread and the owner sees lifecycle only', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl });
  const owners: WebSocket[] = [];
  let ownerMessages = 0;
  server.on('newConnection', (socket) => {
    owners.push(socket!);
    socket!.on('textMessageReceived', () => ownerMessages++);
  });
  const client = await connect(t, `${server.serverUrl()}/handled`);
  await until(() => owners.length === 1, 5000, 'newConnection');
  const owner = owners[0]!;
  t.is(owner.state(), State.Connected);
  t.is(owner.resourceName(), '/handled');
  t.false(server.hasPendingConnections());
  t.is(server.nextPendingConnection(), null);

  const reply = nextMessage(client);
  client.send('thread');
  const threadId = Number((await reply)[0].toString().split(':')[1]);
  if (workers === 0) t.is(threadId, 0);
  else t.not(threadId, 0);
  for (let i = 0; i < 10; i++) {
    const echo = nextMessage(client);
    client.send(`message ${i}`);
    t.is((await echo)[0].toString(), `message ${i}`);
  }
  const disconnected = next(owner, 'disconnected');
  client.close(4100, 'done');
  await disconnected;
  t.is(owner.closeCode(), 4100);
  if (workers > 0) t.is(ownerMessages, 0, 'no per-message traffic reaches the owner');
});

/** An echo server's socket for a `ws` client whose TCP socket has stopped reading (resume `tcp` to read again). */
async function stalledPeer(t: import('ava').ExecutionContext, workers: number, maxPayload: number): Promise<{ socket: WebSocket; client: WS; tcp: import('node:net').Socket }> {
  const server = await startServer(t, workers);
  const sockets = echoEveryConnection(server);
  const client = await connect(t, server.serverUrl(), undefined, { maxPayload });
  await until(() => sockets.length === 1, 5000, 'the server socket');
  const tcp = (client as unknown as { _socket: import('node:net').Socket })._socket;
  tcp.pause();
  return { socket: sockets[0]!, client, tcp };
}

bothTransports('a peer that stops reading: bytesToWrite grows, and bytesWritten reports the drain once it reads', async (t, workers) => {
  const { socket, client, tcp } = await stalledPeer(t, workers, 2 * 1024 * 1024);
  // Listened to from the start: every byte written is reported, whenever it leaves.
  let written = 0;
  socket.on('bytesWritten', (bytes) => { written += bytes; });
  const chunk = Buffer.alloc(1024 * 1024, 9);
  // Far more than loopback's socket buffers hold.
  for (let i = 0; i < 32; i++) t.is(socket.sendBinaryMessage(chunk), chunk.length);
  t.true(socket.bytesToWrite() >= 32 * chunk.length);
  // An absence can only be checked over a window: nothing drains while the peer does not read.
  let flushed = false;
  void socket.flush().then(() => { flushed = true; });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.false(flushed, 'flush() waits for the peer');
  t.true(socket.bytesToWrite() > 0, 'the peer is not reading: bytes stay queued');

  let received = 0;
  const allReceived = within(new Promise<void>((resolve) => client.on('message', () => { if (++received === 32) resolve(); })), 20_000, '32 messages');
  tcp.resume();
  await allReceived;
  // The drain, reported: bytesWritten has counted every byte of the 32 messages (their frame
  // headers too), and bytesToWrite() is back to 0.
  await until(() => written >= 32 * chunk.length && socket.bytesToWrite() === 0, 15_000, 'the drain to be reported');
  t.true(written >= 32 * chunk.length, `bytesWritten reported ${written} bytes`);
  t.is(socket.bytesToWrite(), 0);
  t.is(socket.state(), State.Connected);
});

bothTransports('a peer that stops reading while messages go out turn after turn: bytesWritten counts each wire byte once when it reads', async (t, workers) => {
  const { socket, client, tcp } = await stalledPeer(t, workers, 16 * 1024 * 1024);
  let written = 0;
  socket.on('bytesWritten', (bytes) => { written += bytes; });
  // 8 MiB fills loopback's buffers; then 200 small messages, each in a turn of its own, go out
  // behind it while nothing is read.
  const big = Buffer.alloc(8 * 1024 * 1024, 1);
  socket.sendBinaryMessage(big);
  const small = Buffer.alloc(100, 2);
  for (let i = 0; i < 200; i++) {
    socket.sendBinaryMessage(small);
    await new Promise((resolve) => setImmediate(resolve));
  }
  let received = 0;
  const allReceived = within(new Promise<void>((resolve) => client.on('message', () => { if (++received === 201) resolve(); })), 20_000, '201 messages');
  tcp.resume();
  await allReceived;
  // Wire bytes: the 8 MiB message in frames of outgoingFrameSize, each with a 10-byte header;
  // each small frame with a 2-byte one.
  const wire = Math.ceil(big.length / socket.outgoingFrameSize()) * 10 + big.length + 200 * (2 + small.length);
  await until(() => written >= wire && socket.bytesToWrite() === 0, 15_000, 'the drain to be reported');
  t.is(written, wire);
});

bothTransports('without a bytesWritten listener, bytesToWrite() still falls to 0 once a peer that stopped reading has read everything', async (t, workers) => {
  const { socket, client, tcp } = await stalledPeer(t, workers, 2 * 1024 * 1024);
  t.is(socket.listenerCount('bytesWritten'), 0);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < 16; i++) socket.sendBinaryMessage(chunk);
  // The owner's figure is what the thread last reported: it must be reported again once drained.
  await until(() => socket.bytesToWrite() > 0, 5000, 'bytes queued behind the paused peer');
  let received = 0;
  const allReceived = within(new Promise<void>((resolve) => client.on('message', () => { if (++received === 16) resolve(); })), 20_000, '16 messages');
  tcp.resume();
  await allReceived;
  await until(() => socket.bytesToWrite() === 0, 10_000, 'bytesToWrite() to fall to 0');
  t.is(socket.state(), State.Connected);
});

bothTransports('a connection over the high-water mark is closed with 1008', async (t, workers) => {
  const server = await startServer(t, workers, { highWaterMark: 2 * 1024 * 1024, closeTimeout: 500 });
  t.is(server.highWaterMark(), 2 * 1024 * 1024);
  const sockets = echoEveryConnection(server);
  const client = await connect(t, server.serverUrl());
  await until(() => sockets.length === 1, 5000, 'the server socket');
  const socket = sockets[0]!;
  (client as unknown as { _socket: import('node:net').Socket })._socket.pause();

  const error = next<[WebSocketError]>(socket, 'errorOccurred', 20_000);
  const disconnected = next(socket, 'disconnected', 20_000);
  const aboutToClose = next(socket, 'aboutToClose', 20_000);
  let peak = 0;
  // One 256 KiB message per turn: the mark is reached only once the peer's buffers are full.
  for (let i = 0; i < 400 && socket.state() === State.Connected; i++) {
    socket.sendBinaryMessage(Buffer.alloc(256 * 1024));
    peak = Math.max(peak, socket.bytesToWrite());
    await new Promise((resolve) => setImmediate(resolve));
  }
  const [reported] = await error;
  t.is(reported.kind, SocketError.PolicyViolated);
  t.is(reported.closeCode, CloseCode.PolicyViolated);
  // Closing at once, on the owner too: no send is accepted and thrown away.
  t.is(socket.state(), State.Closing);
  t.is(socket.sendBinaryMessage(Buffer.alloc(1024)), 0);
  t.is(socket.sendTextMessage('refused'), 0);
  t.false(socket.isValid());
  await aboutToClose;
  await disconnected;
  t.is(socket.closeCode(), CloseCode.PolicyViolated);
  t.true(peak > 2 * 1024 * 1024, `bytesToWrite peaked at ${peak}`);
  await until(() => server.connectionCount() === 0, 5000, 'the connection to be gone');
});

bothTransports('closeAllConnections closes every connection with 1001 and resolves when all have ended', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets = echoEveryConnection(server);
  const clients = await inBatches(10, 10, () => connect(t, server.serverUrl()));
  await until(() => sockets.length === 10, 5000, 'ten server sockets');
  // One more left waiting in the pending queue.
  server.removeAllListeners('newConnection');
  const waiting = await connect(t, server.serverUrl());
  await until(() => server.hasPendingConnections(), 5000, 'a pending connection');
  const closes = [...clients, waiting].map((client) => closeOf(client));
  await within(server.closeAllConnections(), 10_000, 'closeAllConnections');
  for (const socket of sockets) {
    t.is(socket.state(), State.Unconnected);
    t.is(socket.closeCode(), CloseCode.GoingAway);
  }
  t.is(server.connectionCount(), 0);
  for (const [code, reason] of await Promise.all(closes)) {
    t.is(code, CloseCode.GoingAway);
    t.is(reason, 'Server shutting down');
  }
  // The server still listens and serves.
  t.true(server.isListening());
});

bothTransports('closeAllConnections drops a peer that never answers the Close, after its timeout', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets = echoEveryConnection(server);
  const raw = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(raw.status, 101);
  await until(() => sockets.length === 1, 5000, 'the server socket');
  await within(server.closeAllConnections(CloseCode.GoingAway, 'bye', 300), 5000, 'closeAllConnections');
  t.is(sockets[0]!.state(), State.Unconnected);
  t.is(server.connectionCount(), 0);
});

test.serial('a thread that dies takes its counted connections (handler mode, nobody on the owner observing) out of the counts; the other thread\'s stay [workers: 2]', async (t) => {
  const server = await startServer(t, 2, { handler: EchoHandlerUrl, minWorkers: 2 });
  const clients = await inBatches(40, 10, () => connect(t, server.serverUrl()));
  const threadOf = await Promise.all(clients.map(async (client) => {
    const reply = nextMessage(client);
    client.send('thread');
    return (await reply)[0].toString();
  }));
  t.is(new Set(threadOf).size, 2, 'both threads hold connections');
  await until(() => server.connectionCount() === 40, 5000, 'forty connections counted');
  t.is((await server.census()).connections, 0, 'counted, not recorded');
  const victimThread = threadOf[0]!;
  const victims = clients.filter((_, i) => threadOf[i] === victimThread);
  const survivors = clients.filter((_, i) => threadOf[i] !== victimThread);
  const closes = victims.map((client) => closeOf(client));
  victims[0]!.send('exit');
  t.deepEqual(new Set((await Promise.all(closes)).map(([code]) => code)), new Set([1006]));
  await until(() => server.connectionCount() === survivors.length, 10_000, 'the survivors alone counted');
  await until(() => !server.workerConnectionCounts().has(Number(victimThread.split(':')[1])), 10_000, 'the dead thread to leave the counts');
  for (const client of survivors) {
    const reply = nextMessage(client);
    client.send('still here');
    t.is((await reply)[0].toString(), 'still here');
  }
});

test('closeAllConnections drops a handler-mode peer nobody on the owner observes and that never answers the Close, after its timeout [workers: 2]', async (t) => {
  const server = await startServer(t, 2, { handler: EchoHandlerUrl });
  const raw = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(raw.status, 101);
  await until(() => server.connectionCount() === 1, 5000, 'the connection counted');
  const dropped = socketClosed(raw.socket, 5000);
  const started = performance.now();
  await within(server.closeAllConnections(CloseCode.GoingAway, 'bye', 300), 5000, 'closeAllConnections');
  t.true(performance.now() - started >= 290, 'it waited for the Close first');
  await dropped;
  t.is(server.connectionCount(), 0);
});

bothTransports('pauseReading() stops reading a connection and resumeReading() delivers everything, in order', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets = echoEveryConnection(server);
  const client = await connect(t, server.serverUrl());
  await until(() => sockets.length === 1, 5000, 'the server socket');
  const socket = sockets[0]!;
  const received: string[] = [];
  socket.on('textMessageReceived', (text) => received.push(text));
  socket.pauseReading();
  // The pause reaches the thread with the next command batch: let one round trip pass.
  const echo = nextMessage(client);
  socket.sendTextMessage('paused now');
  await echo;
  for (let i = 0; i < 100; i++) client.send(`m${i}`);
  // An absence can only be checked over a window.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.deepEqual(received, []);
  socket.resumeReading();
  await until(() => received.length === 100, 10_000, 'the held messages');
  t.deepEqual(received, Array.from({ length: 100 }, (_, i) => `m${i}`));
});

bothTransports('abort() drops the connection without a closing handshake', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets = echoEveryConnection(server);
  const client = await connect(t, server.serverUrl());
  await until(() => sockets.length === 1, 5000, 'the server socket');
  const closed = closeOf(client);
  const disconnected = next(sockets[0]!, 'disconnected');
  sockets[0]!.abort();
  t.is((await closed)[0], CloseCode.AbnormalDisconnection);
  await disconnected;
  t.is(sockets[0]!.closeCode(), CloseCode.AbnormalDisconnection);
});

/**
 * Handles of the kinds a connection holds on the owner thread. The count is process-wide, so the
 * test that reads it runs serially: no other test of this file has handles open beside it.
 */
function ownerHandles(): { ports: number; sockets: number } {
  const resources = process.getActiveResourcesInfo();
  return {
    ports: resources.filter((kind) => kind === 'MessagePort').length,
    sockets: resources.filter((kind) => kind === 'TCPSocketWrap' || kind === 'TLSWrap').length,
  };
}

bothTransports('nothing is left behind: after 50 connections come and go the owner holds no more ports or sockets than before', async (t, workers) => {
  // Every thread up from the start: a thread started by these connections would hold a port of its own.
  const server = await startServer(t, workers, { maxPendingConnections: 100, minWorkers: Math.max(1, workers) });
  const sockets = echoEveryConnection(server);
  const warm = await connect(t, server.serverUrl());
  const warmClosed = closeOf(warm);
  warm.close();
  await warmClosed;
  await until(() => server.connectionCount() === 0, 5000, 'the warm-up connection to end');
  const before = ownerHandles();

  const clients = await inBatches(50, 25, () => connect(t, server.serverUrl()));
  await until(() => sockets.length === 51, 5000, 'every server socket');
  await Promise.all(clients.map(async (client, i) => {
    const echo = nextMessage(client);
    client.send(`${i}`);
    await echo;
    const closed = closeOf(client);
    client.close(1000);
    await closed;
  }));
  await until(() => server.connectionCount() === 0, 10_000, 'every connection to end');
  await until(() => {
    const now = ownerHandles();
    return now.ports <= before.ports && now.sockets <= before.sockets;
  }, 5000, `the owner's handles to return to ${JSON.stringify(before)} (now ${JSON.stringify(ownerHandles())})`);
  t.true(sockets.every((socket) => socket.state() === State.Unconnected));
  t.deepEqual([...server.workerConnectionCounts().values()].filter((count) => count > 0), []);
}, true);
