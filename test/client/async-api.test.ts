import { Buffer } from 'node:buffer';
import test from 'ava';
import type { WebSocket as WsSocket } from 'ws';
import { SocketError, State, WebSocket, type WebSocketError } from '../../src/index.ts';
import { hasIpv6Loopback, next, rejection, startRawServer, startWsServer, until, within } from './support.ts';

async function connectedPair(t: import('ava').ExecutionContext, socket = new WebSocket()) {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const arrived = next<[WsSocket]>(peer.wss, 'connection');
  await within(socket.open(`${peer.url}/`), 5000, 'the opening');
  const [server] = await arrived;
  return { peer, socket, server };
}

test('for await yields text and binary messages in order and ends on a normal close', async (t) => {
  const { socket, server } = await connectedPair(t);
  server.send('one');
  server.send(Buffer.from([2]), { binary: true });
  server.send('three');
  server.close(1000);
  const received: unknown[] = [];
  await within((async () => {
    for await (const message of socket) received.push(typeof message === 'string' ? message : [...message]);
  })(), 5000, 'the iteration to end');
  t.deepEqual(received, ['one', [2], 'three']);
  t.is(socket.state(), State.Unconnected);
});

test('for await throws the error that ended the connection, after the messages before it', async (t) => {
  const { socket, server } = await connectedPair(t);
  const received: string[] = [];
  const iteration = (async () => {
    for await (const message of socket) {
      received.push(message as string);
      if (message === 'last') server.terminate();
    }
  })();
  server.send('first');
  server.send('last');
  const error = await rejection<WebSocketError>(iteration, 5000);
  t.is(error.kind, SocketError.RemoteHostClosed);
  t.deepEqual(received, ['first', 'last']);
});

test('breaking out of for await stops listening', async (t) => {
  const { socket, server } = await connectedPair(t);
  server.send('a');
  server.send('b');
  for await (const message of socket) {
    t.is(message, 'a');
    break;
  }
  // The socket keeps working for listeners after the loop.
  const later = next<[string]>(socket, 'textMessageReceived');
  server.send('c');
  t.is((await later)[0], 'c');
  socket.abort();
});

test('iterating an unconnected socket ends at once', async (t) => {
  const socket = new WebSocket();
  const iterator = socket[Symbol.asyncIterator]();
  t.deepEqual(await iterator.next(), { done: true, value: undefined });
});

test('a consumer slower than the queue limit pauses reading (TCP backpressure)', async (t) => {
  t.timeout(30_000);
  const { socket, server } = await connectedPair(t);
  const count = 512;
  const size = 64 * 1024;
  let received = 0;
  socket.on('binaryMessageReceived', () => received++);
  const iterator = socket.messages({ maxQueuedBytes: 1024 * 1024 });
  for (let index = 0; index < count; index++) {
    const message = Buffer.alloc(size);
    message.writeUInt32BE(index, 0);
    server.send(message, { binary: true });
  }
  const first = await within(iterator.next(), 5000, 'the first message');
  t.is((first.value as Buffer).readUInt32BE(0), 0);
  // 32 MiB at loopback speed would all be read within milliseconds without backpressure; the
  // window shows that reading stopped, with the rest left in TCP and in the server's buffer.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.true(received < count, `received ${received} of ${count} while the consumer stalled`);
  t.true(server.bufferedAmount > 0);

  for (let index = 1; index < count; index++) {
    const result = await within(iterator.next(), 5000, `message ${index}`);
    t.is((result.value as Buffer).readUInt32BE(0), index);
  }
  t.is(received, count);
  await until(() => server.bufferedAmount === 0, 5000, 'the server buffer drains');
  await iterator.return();
  socket.abort();
});

test('opened() resolves once connected; before open() it rejects', async (t) => {
  const socket = new WebSocket();
  t.is((await rejection<WebSocketError>(socket.opened())).kind, SocketError.Operation);
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  socket.open(peer.url);
  await within(socket.opened(), 5000, 'opened()');
  t.is(socket.state(), State.Connected);
  t.true(socket.isValid());
  await socket.opened();
  socket.abort();
});

test('an AbortSignal cancels an opening in progress', async (t) => {
  const server = await startRawServer(() => {});
  t.teardown(() => server.close());
  const socket = new WebSocket();
  const events: string[] = [];
  socket.on('stateChanged', (state) => events.push(state));
  socket.on('disconnected', () => events.push('disconnected'));
  socket.on('errorOccurred', (error) => events.push(`error:${error.kind}`));
  const controller = new AbortController();
  const opening = socket.open(server.url, { signal: controller.signal });
  await until(() => server.sockets.size === 1, 5000, 'the server sees the connection');
  controller.abort(new Error('changed my mind'));
  const error = await rejection<WebSocketError>(opening);
  t.is(error.kind, SocketError.Operation);
  t.is((error.cause as Error).message, 'changed my mind');
  t.deepEqual(events, ['Connecting', 'Unconnected', 'disconnected']);
  await until(() => server.sockets.size === 0, 5000, 'the connection is dropped');
});

test('an already aborted signal fails open() without connecting', async (t) => {
  const socket = new WebSocket();
  let stateChanges = 0;
  socket.on('stateChanged', () => stateChanges++);
  const error = await rejection<WebSocketError>(socket.open('ws://127.0.0.1:9/', { signal: AbortSignal.abort() }));
  t.is(error.kind, SocketError.Operation);
  t.is(stateChanges, 0);
});

test('aborting the signal after the opening leaves the connection alone', async (t) => {
  const controller = new AbortController();
  const socket = new WebSocket();
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  await within(socket.open(peer.url, { signal: controller.signal }), 5000, 'the opening');
  controller.abort();
  t.is(socket.state(), State.Connected);
  socket.abort();
});

test('close() during an opening cancels it', async (t) => {
  const server = await startRawServer(() => {});
  t.teardown(() => server.close());
  const socket = new WebSocket();
  const opening = socket.open(server.url);
  t.is(socket.state(), State.Connecting);
  const disconnected = next(socket, 'disconnected');
  socket.close();
  t.is(socket.state(), State.Unconnected);
  await disconnected;
  t.is((await rejection<WebSocketError>(opening)).kind, SocketError.Operation);
  await until(() => server.sockets.size === 0, 5000, 'the connection is dropped');
});

test('a listener-only caller gets no unhandled rejection from a failed open()', async (t) => {
  const socket = new WebSocket();
  const error = next<[WebSocketError]>(socket, 'errorOccurred');
  socket.open('ws://nonexistent.invalid/');
  t.is((await error)[0].kind, SocketError.HostNotFound);
  // AVA fails the test run on an unhandled rejection; reaching the end of the test is the check.
  await new Promise((resolve) => setImmediate(resolve));
});

test('getters describe the connection; peerName is the URL host from open() on', async (t) => {
  const socket = new WebSocket({ origin: 'https://example.org' });
  t.is(socket.origin(), 'https://example.org');
  t.is(socket.closeCode(), 1000);
  t.is(socket.error(), SocketError.UnknownSocket);
  t.is(socket.errorString(), '');
  const peer = await startWsServer({ handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false) });
  t.teardown(() => peer.close());
  const arrived = next<[WsSocket, import('node:http').IncomingMessage]>(peer.wss, 'connection');
  const opening = socket.open(`ws://localhost:${peer.port}/chat?room=1`, { subprotocols: ['chat.v1', 'chat.v2'], headers: { Authorization: 'Bearer x' } });
  t.is(socket.peerName(), 'localhost');
  await within(opening, 5000, 'the opening');
  const [, request] = await arrived;
  t.is(request.headers.origin, 'https://example.org');
  t.is(request.headers.authorization, 'Bearer x');
  t.is(request.headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
  t.is(socket.subprotocol(), 'chat.v2');
  t.is(socket.resourceName(), '/chat?room=1');
  t.is(socket.requestUrl(), `ws://localhost:${peer.port}/chat?room=1`);
  t.is(socket.peerPort(), peer.port);
  t.is(socket.localAddress(), socket.peerAddress());
  t.true(socket.localPort() > 0);
  t.deepEqual(socket.request().headers.find(([name]) => name === 'Authorization'), ['Authorization', 'Bearer x']);
  t.is(socket.handshakeResponse()?.status, 101);
  t.true(socket.handshakeResponse()!.headers.some(([name, value]) => name.toLowerCase() === 'sec-websocket-protocol' && value === 'chat.v2'));
  socket.abort();
});

(hasIpv6Loopback() ? test : test.skip)(`IPv6 literals connect ([::1])${hasIpv6Loopback() ? '' : ' (skipped: no IPv6 loopback on this machine)'}`, async (t) => {
  const peer = await startWsServer({ host: '::1' });
  t.teardown(() => peer.close());
  const socket = new WebSocket();
  await within(socket.open(`ws://[::1]:${peer.port}/v6`), 5000, 'the opening');
  t.is(socket.peerAddress(), '::1');
  t.is(socket.peerName(), '::1');
  socket.abort();
});

test('an iteration started during the opening throws the error that failed it', async (t) => {
  const socket = new WebSocket();
  const opening = socket.open('ws://nonexistent.invalid/');
  const iteration = (async () => {
    for await (const message of socket) t.fail(`unexpected message ${String(message)}`);
  })();
  const error = await rejection<WebSocketError>(iteration);
  t.is(error.kind, SocketError.HostNotFound);
  t.is(await rejection<WebSocketError>(opening), error);
});
