import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type WS from 'ws';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { SecureMode, State } from '../../src/shared/engine/state.ts';
import {
  Transports,
  bothTransports,
  closeOf,
  connect,
  echoEveryConnection,
  next,
  nextMessage,
  within,
} from './support.ts';

/** One echo server per transport, shared by the tests of this file. */
const servers = new Map<number, { server: WebSocketServer; sockets: WebSocket[] }>();

test.before(async () => {
  for (const workers of Transports) {
    const server = new WebSocketServer('echo', SecureMode.NonSecure, { workers });
    const sockets = echoEveryConnection(server);
    if (!(await server.listen('127.0.0.1', 0))) throw new Error(server.errorString());
    servers.set(workers, { server, sockets });
  }
});

test.after.always(async () => {
  for (const { server } of servers.values()) await within(server.destroy(), 15_000, 'destroy');
});

/** The server-side socket of the client that just connected (its newConnection came first). */
async function serverSocketOf(workers: number, client: WS): Promise<WebSocket> {
  const { sockets } = servers.get(workers)!;
  const localPort = (client as unknown as { _socket: { localPort: number } })._socket.localPort;
  for (let i = 0; i < 200; i++) {
    const socket = sockets.find((s) => s.peerPort() === localPort);
    if (socket !== undefined) return socket;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('no server-side socket for this client');
}

const Sizes = [0, 1, 125, 126, 65_535, 65_536, 1024 * 1024, 16 * 1024 * 1024];

bothTransports('text and binary messages echo unchanged from 0 bytes to 16 MiB', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl(), undefined, { maxPayload: 32 * 1024 * 1024 });
  for (const size of Sizes) {
    const binary = randomBytes(size);
    const reply = nextMessage(client, 30_000);
    client.send(binary);
    const [data, isBinary] = await reply;
    t.true(isBinary, `binary ${size}`);
    t.true(data.equals(binary), `binary ${size} bytes`);

    // Multi-byte characters, so that frames split inside a character.
    const text = 'aé€😀'.repeat(Math.ceil(size / 10)).slice(0, size);
    const textReply = nextMessage(client, 30_000);
    client.send(text);
    const [textData, textIsBinary] = await textReply;
    t.false(textIsBinary, `text ${size}`);
    t.is(textData.toString('utf8'), text, `text ${text.length} characters`);
  }
});

bothTransports('fragmented input is reassembled, with a frame signal per frame', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl());
  const socket = await serverSocketOf(workers, client);
  const frames: Array<[string, boolean]> = [];
  socket.on('textFrameReceived', (frame, isLast) => frames.push([frame, isLast]));
  // The frame listener reaches the connection's engine with the next command batch: a round
  // trip first, so that the fragments below are reported frame by frame.
  const warmUp = nextMessage(client);
  client.send('warm-up');
  await warmUp;
  frames.length = 0;

  const message = next<[string]>(socket, 'textMessageReceived');
  client.send('Hello, ', { fin: false });
  client.send('fragmented ', { fin: false });
  client.send('wörld', { fin: true });
  t.is((await message)[0], 'Hello, fragmented wörld');
  t.deepEqual(frames, [['Hello, ', false], ['fragmented ', false], ['wörld', true]]);
  const [echo] = await nextMessage(client);
  t.is(echo.toString(), 'Hello, fragmented wörld');

  const binary = next<[Buffer]>(socket, 'binaryMessageReceived');
  client.send(Buffer.from([1, 2]), { binary: true, fin: false });
  client.send(Buffer.from([3]), { binary: true, fin: true });
  t.deepEqual([...(await binary)[0]], [1, 2, 3]);
});

bothTransports('a client ping is answered with its payload; a server ping reports pong with elapsed time and payload', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl());
  const socket = await serverSocketOf(workers, client);

  // Every Ping the server sends: only the two it is asked to below (a Ping it receives is
  // answered with a Pong, nothing else).
  const pings: string[] = [];
  client.on('ping', (data: Buffer) => pings.push(data.length > 20 ? `${data.length} bytes` : data.toString()));
  const pong = within(new Promise<Buffer>((resolve) => client.once('pong', resolve)), 5000, 'pong');
  client.ping(Buffer.from('client ping payload'));
  t.is((await pong).toString(), 'client ping payload');

  const serverPong = next<[number, Buffer]>(socket, 'pong');
  const pingedAt = performance.now();
  socket.ping(Buffer.from('server ping payload'));
  const [elapsedMs, payload] = await serverPong;
  const waited = performance.now() - pingedAt;
  t.is(payload.toString(), 'server ping payload');
  // The round trip of this ping: more than nothing, no more than we waited for it.
  t.true(elapsedMs > 0 && elapsedMs <= waited + 1, `elapsed ${elapsedMs} ms, waited ${waited} ms`);

  // A payload over 125 bytes is cut to 125.
  const long = next<[number, Buffer]>(socket, 'pong');
  socket.ping(Buffer.alloc(200, 7));
  t.is((await long)[1].length, 125);
  t.deepEqual(pings, ['server ping payload', '125 bytes']);
});

bothTransports('a close started by the client: code and reason seen on both ends', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl());
  const socket = await serverSocketOf(workers, client);
  const disconnected = next(socket, 'disconnected');
  const aboutToClose: number[] = [];
  socket.on('aboutToClose', () => aboutToClose.push(1));
  const clientClosed = closeOf(client);
  client.close(4321, 'client says bye');
  await disconnected;
  t.is(socket.closeCode(), 4321);
  t.is(socket.closeReason(), 'client says bye');
  t.is(socket.state(), State.Unconnected);
  t.deepEqual(aboutToClose, [1]);
  // The server's Close echoes the code (RFC 6455 5.5.1) and the reason, as ws does.
  t.deepEqual(await clientClosed, [4321, 'client says bye']);
});

bothTransports('a close started by the server: code and reason seen on both ends', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl());
  const socket = await serverSocketOf(workers, client);
  const states: State[] = [];
  socket.on('stateChanged', (state) => states.push(state));
  const disconnected = next(socket, 'disconnected');
  const clientClosed = closeOf(client);
  socket.close(4000, 'server says bye');
  t.deepEqual(await clientClosed, [4000, 'server says bye']);
  await disconnected;
  t.is(socket.closeCode(), 4000);
  t.is(socket.closeReason(), 'server says bye');
  t.deepEqual(states, [State.Closing, State.Unconnected]);
  t.is(socket.sendTextMessage('too late'), 0);
});

bothTransports('the server-side socket knows its request and peer', async (t, workers) => {
  const server = servers.get(workers)!.server;
  const client = await connect(t, `${server.serverUrl()}/chat/room?id=7`, undefined, { origin: 'http://example.test', headers: { 'X-Custom': 'yes' } });
  const socket = await serverSocketOf(workers, client);
  const local = (client as unknown as { _socket: { localPort: number; remotePort: number } })._socket;
  t.is(socket.origin(), 'http://example.test');
  t.is(socket.resourceName(), '/chat/room?id=7');
  t.is(socket.requestUrl(), `${server.serverUrl()}/chat/room?id=7`);
  t.is(socket.peerAddress(), '127.0.0.1');
  t.is(socket.peerPort(), local.localPort);
  t.is(socket.localPort(), server.serverPort());
  t.true(socket.request().headers.some(([name, value]) => name.toLowerCase() === 'x-custom' && value === 'yes'));
  t.is(socket.state(), State.Connected);
});

bothTransports('messages sent before the socket is taken from the pending queue are all delivered, in order', async (t, workers) => {
  const server = new WebSocketServer('queue', SecureMode.NonSecure, { workers });
  t.teardown(() => within(server.destroy(), 15_000, 'destroy'));
  t.true(await server.listen('127.0.0.1', 0));
  const queued = next(server, 'newConnection');
  const client = await connect(t, server.serverUrl());
  await queued;
  await within(new Promise<void>((resolve) => {
    for (let i = 0; i < 50; i++) client.send(`early ${i}`);
    client.send('last', () => resolve());
  }), 5000, 'the client to write');
  // Nothing is listening yet: the messages wait with the socket.
  const socket = server.nextPendingConnection()!;
  t.is(server.nextPendingConnection(), null);
  const received: string[] = [];
  await within(new Promise<void>((resolve) => {
    socket.on('textMessageReceived', (text) => {
      received.push(text);
      if (text === 'last') resolve();
    });
  }), 5000, 'the early messages');
  t.deepEqual(received, [...Array.from({ length: 50 }, (_, i) => `early ${i}`), 'last']);
});

bothTransports('sendBinaryMessage copies before it returns; with copy: false it sends the caller\'s bytes, which arrive as they were', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl(), undefined, { maxPayload: 8 * 1024 * 1024 });
  const socket = await serverSocketOf(workers, client);
  const sent = randomBytes(1024 * 1024);
  const reused = Buffer.from(sent);
  const first = nextMessage(client, 20_000);
  socket.sendBinaryMessage(reused);
  // The default: the buffer is the caller's again as soon as the call returns.
  reused.fill(0);
  t.true((await first)[0].equals(sent));
  const kept = Buffer.from(sent);
  const second = nextMessage(client, 20_000);
  socket.sendBinaryMessage(kept, { copy: false });
  // copy: false asks the caller to keep the bytes until they are written.
  await within(socket.flush(), 10_000, 'flush');
  kept.fill(0);
  t.true((await second)[0].equals(sent));
});

bothTransports('bytesToWrite counts what is queued and bytesWritten reports it leaving', async (t, workers) => {
  const client = await connect(t, servers.get(workers)!.server.serverUrl(), undefined, { maxPayload: 8 * 1024 * 1024 });
  const socket = await serverSocketOf(workers, client);
  let written = 0;
  socket.on('bytesWritten', (bytes) => { written += bytes; });
  const arrived = nextMessage(client, 20_000);
  t.is(socket.sendBinaryMessage(Buffer.alloc(4 * 1024 * 1024, 1)), 4 * 1024 * 1024);
  t.true(socket.bytesToWrite() >= 4 * 1024 * 1024);
  t.is((await arrived)[0].length, 4 * 1024 * 1024);
  await within(socket.flush(), 10_000, 'flush');
  await within((async () => {
    while (written < 4 * 1024 * 1024 || socket.bytesToWrite() > 0) await next(socket, 'bytesWritten', 10_000);
  })(), 10_000, 'bytesWritten to cover the message');
  t.true(written >= 4 * 1024 * 1024);
  t.is(socket.bytesToWrite(), 0);
});
