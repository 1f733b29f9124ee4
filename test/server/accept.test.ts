// Which thread accepts (the `accept` option): the pool threads themselves, each listening on the
// server's port with SO_REUSEPORT, or the owner, which moves each socket to a thread.
import net from 'node:net';
import test from 'ava';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { SecureMode, State } from '../../src/shared/engine/state.ts';
import { EchoHandlerUrl, connect, echoEveryConnection, inBatches, nextMessage, rawUpgrade, socketClosed, startServer, until, upgradeRequest, within } from './support.ts';

test('accept: threads: both pool threads accept on the port, and the owner holds no listening socket', async (t) => {
  const server = await startServer(t, 2, { handler: EchoHandlerUrl, accept: 'threads' });
  t.true(server.isListening());
  t.is(server.socketDescriptor(), -1, 'the owner\'s listening socket closed once the threads listened');
  const clients = await inBatches(200, 20, () => connect(t, server.serverUrl()));
  const threads = new Set(await Promise.all(clients.map(async (client) => {
    const reply = nextMessage(client);
    client.send('thread');
    return (await reply)[0].toString();
  })));
  // The kernel spreads by a hash of the addresses: 200 connections on one thread of two would be
  // a 1 in 2^199 event.
  t.is(threads.size, 2, [...threads].join(', '));
  await until(() => server.connectionCount() === 200, 5000, 'every connection counted on the owner');
  const counts = [...server.workerConnectionCounts().values()];
  t.is(counts.reduce((a, b) => a + b, 0), 200);
  t.log(`connections per thread: ${counts.join(', ')}`);
});

test('accept: owner: the owner accepts and moves each socket to the thread with the fewest connections', async (t) => {
  const server = await startServer(t, 2, { handler: EchoHandlerUrl, accept: 'owner', minWorkers: 2 });
  t.true(server.socketDescriptor() >= 0);
  const clients = await inBatches(20, 1, () => connect(t, server.serverUrl()));
  await until(() => server.connectionCount() === 20, 5000, 'every connection counted');
  t.deepEqual([...server.workerConnectionCounts().values()], [10, 10]);
  const reply = nextMessage(clients[0]!);
  clients[0]!.send('moved');
  t.is((await reply)[0].toString(), 'moved');
});

test('accept: owner: a moved socket serves as an accepted one does: its addresses, echo, and a peer that half-closes is closed', async (t) => {
  const server = await startServer(t, 1, { accept: 'owner', minWorkers: 1 });
  const sockets = echoEveryConnection(server);
  const client = await connect(t, server.serverUrl());
  await until(() => sockets.length === 1, 5000, 'the connection taken');
  const socket = sockets[0]!;
  const clientSide = (client as unknown as { _socket: net.Socket })._socket;
  t.deepEqual([socket.peerAddress(), socket.peerPort(), socket.localPort()], ['127.0.0.1', clientSide.localPort, server.serverPort()]);
  const reply = nextMessage(client);
  client.send('moved');
  t.is((await reply)[0].toString(), 'moved');
  // A raw peer that ends its side after the upgrade: the thread ends the moved socket too.
  const raw = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(raw.status, 101);
  raw.socket.end();
  await socketClosed(raw.socket);
  await until(() => server.connectionCount() === 1, 5000, 'the half-closed connection ended on the owner');
});

test('accept must be threads or owner', (t) => {
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { accept: 'kernel' as never }), { instanceOf: InvalidArgumentError, message: /accept must be 'threads' or 'owner'/ });
});

test.serial('a thread that replaces a dead one listens too: with one thread, the next connection after its death is served', async (t) => {
  const server = await startServer(t, 1, { handler: EchoHandlerUrl, accept: 'threads' });
  const first = await connect(t, server.serverUrl());
  const died = within(new Promise<void>((resolve) => server.on('serverError', () => resolve())), 10_000, 'the thread to die');
  first.send('exit');
  await died;
  // Only the replacement can accept now: the dead thread's listening socket went with it.
  // Refused until the replacement listens (nothing else holds the port): tried again at once, for 10 s at most.
  const deadline = performance.now() + 10_000;
  let fresh: Awaited<ReturnType<typeof connect>> | undefined;
  while (fresh === undefined) {
    try {
      fresh = await connect(t, server.serverUrl());
    } catch (error) {
      if (performance.now() > deadline) throw error;
    }
  }
  const reply = nextMessage(fresh);
  fresh.send('served by the replacement');
  t.is((await reply)[0].toString(), 'served by the replacement');
});

test('a setter called after listen() reaches the connections the threads accept: a shorter handshake timeout', async (t) => {
  const server = await startServer(t, 2, { accept: 'threads' });
  server.setHandshakeTimeout(200);
  const started = performance.now();
  const socket = net.connect(server.serverPort(), '127.0.0.1');
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  socket.write(upgradeRequest(server.serverPort()).slice(0, 40));
  await socketClosed(socket, 5000);
  // The default is 10 s; the wait above fails long before that.
  t.true(performance.now() - started < 4000);
});

test('accept: threads: a connection accepted after close() and listen() again is numbered apart from the ones still open', async (t) => {
  const server = await startServer(t, 1, { accept: 'threads' });
  const sockets = echoEveryConnection(server);
  const port = server.serverPort();
  const first = await connect(t, server.serverUrl());
  await until(() => sockets.length === 1, 5000, 'the first connection taken');
  // close() stops listening; the open connection stays (Qt's QWebSocketServer::close()).
  server.close();
  t.true(await server.listen('127.0.0.1', port), server.errorString());
  const second = await connect(t, server.serverUrl());
  await until(() => sockets.length === 2, 5000, 'the second connection taken');
  t.is(server.connectionCount(), 2);
  t.deepEqual(sockets.map((socket) => socket.peerPort()).sort(), [first, second].map((client) => (client as unknown as { _socket: net.Socket })._socket.localPort).sort());
  const replies = [nextMessage(first), nextMessage(second)];
  first.send('to the first');
  second.send('to the second');
  t.deepEqual((await Promise.all(replies)).map(([data]) => data.toString()), ['to the first', 'to the second']);
  // Each socket on the owner ends with its own client.
  const ended = within(new Promise<void>((resolve) => sockets[0]!.once('disconnected', () => resolve())), 5000, 'the first socket to end');
  first.close();
  await ended;
  t.is(sockets[1]!.state(), State.Connected);
});
