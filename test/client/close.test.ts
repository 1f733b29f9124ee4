import { Buffer } from 'node:buffer';
import type net from 'node:net';
import test from 'ava';
import type { WebSocket as WsSocket } from 'ws';
import { InvalidArgumentError, SocketError, State, WebSocket, type WebSocketError } from '../../src/index.ts';
import { closePayload, next, parseFrames, serverFrame, startRawServer, startWsServer, switchingProtocols, until, within } from './support.ts';

async function connectedPair(t: import('ava').ExecutionContext) {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const socket = new WebSocket();
  const arrived = next<[WsSocket]>(peer.wss, 'connection');
  await within(socket.open(`${peer.url}/`), 5000, 'the opening');
  const [server] = await arrived;
  return { peer, socket, server };
}

/** Records the signals that matter for closing, in order. */
function record(socket: WebSocket): string[] {
  const events: string[] = [];
  socket.on('aboutToClose', () => events.push('aboutToClose'));
  socket.on('stateChanged', (state) => events.push(`state:${state}`));
  socket.on('disconnected', () => events.push('disconnected'));
  socket.on('errorOccurred', (error) => events.push(`error:${error.kind}`));
  return events;
}

test('server-initiated close: the client sees the code and reason and answers', async (t) => {
  const { socket, server } = await connectedPair(t);
  const events = record(socket);
  const serverSaw = next<[number, Buffer]>(server, 'close');
  server.close(4001, 'server says bye');
  await next(socket, 'disconnected');
  t.is(socket.closeCode(), 4001);
  t.is(socket.closeReason(), 'server says bye');
  t.deepEqual(events, ['aboutToClose', 'state:Closing', 'state:Unconnected', 'disconnected']);
  const [code] = await serverSaw;
  t.is(code, 4001);
  t.is(socket.state(), State.Unconnected);
});

test('client-initiated close: the server sees the code and reason', async (t) => {
  const { socket, server } = await connectedPair(t);
  const events = record(socket);
  const serverSaw = next<[number, Buffer]>(server, 'close');
  socket.close(3333, 'client says bye');
  t.is(socket.state(), State.Closing);
  socket.close(1000, 'twice'); // ignored while Closing
  await next(socket, 'disconnected');
  const [code, reason] = await serverSaw;
  t.is(code, 3333);
  t.is(reason.toString(), 'client says bye');
  t.is(socket.closeCode(), 3333);
  t.deepEqual(events, ['aboutToClose', 'state:Closing', 'state:Unconnected', 'disconnected']);
});

test('a Close without a code reads as 1005; close(1005) sends one', async (t) => {
  const { socket, server } = await connectedPair(t);
  const serverSaw = next<[number, Buffer]>(server, 'close');
  socket.close(1005);
  await next(socket, 'disconnected');
  t.is((await serverSaw)[0], 1005);
  t.is(socket.closeCode(), 1005);
  t.is(socket.closeReason(), '');
});

test('the peer vanishing without a Close gives 1006 and RemoteHostClosed', async (t) => {
  const { socket, server } = await connectedPair(t);
  const events = record(socket);
  const error = next<[WebSocketError]>(socket, 'errorOccurred');
  server.terminate();
  await next(socket, 'disconnected');
  t.is((await error)[0].kind, SocketError.RemoteHostClosed);
  t.is(socket.closeCode(), 1006);
  t.deepEqual(events, ['error:RemoteHostClosed', 'aboutToClose', 'state:Unconnected', 'disconnected']);
});

test('abort() drops the connection at once: 1006, no error', async (t) => {
  const { socket, server } = await connectedPair(t);
  const events = record(socket);
  const serverSaw = next<[number]>(server, 'close');
  socket.abort();
  await next(socket, 'disconnected');
  t.is(socket.closeCode(), 1006);
  t.is((await serverSaw)[0], 1006);
  t.deepEqual(events, ['aboutToClose', 'state:Unconnected', 'disconnected']);
});

test('close() refuses codes that may not be sent', async (t) => {
  const { socket } = await connectedPair(t);
  for (const code of [0, 999, 1004, 1006, 1015, 2999, 5000]) {
    t.throws(() => socket.close(code), { instanceOf: InvalidArgumentError }, String(code));
  }
  t.throws(() => socket.close(1005, 'reason'), { instanceOf: InvalidArgumentError });
  t.is(socket.state(), State.Connected);
  socket.abort();
});

test('the client waits for the server to end TCP after the Close exchange', async (t) => {
  let serverSocket: net.Socket | undefined;
  let wire = Buffer.alloc(0);
  let clientEnded = false;
  const server = await startRawServer((raw, request) => {
    serverSocket = raw;
    raw.write(switchingProtocols(request));
    raw.on('data', (chunk: Buffer) => {
      wire = Buffer.concat([wire, chunk]);
    });
    raw.on('end', () => {
      clientEnded = true;
    });
  });
  t.teardown(() => server.close());
  const socket = new WebSocket();
  await within(socket.open(server.url), 5000, 'the opening');
  socket.close(1000, 'done');
  await until(() => parseFrames(wire).some((frame) => frame.opcode === 8), 5000, 'the client Close arrives');
  // Answer the Close but keep TCP open: the client must not end it first.
  const disconnected = next(socket, 'disconnected');
  serverSocket!.write(serverFrame(8, closePayload(1000, 'done')));
  // Proving that something does not happen takes a window: a client that ended TCP on its own
  // would have its FIN right behind the Close it already sent, seen here within milliseconds.
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.false(clientEnded);
  t.is(socket.state(), State.Closing);
  serverSocket!.end();
  await disconnected;
  t.is(socket.closeCode(), 1000);
  t.is(socket.closeReason(), 'done');
});

test('a server that never answers the Close is cut off after the close timeout', async (t) => {
  const server = await startRawServer((raw, request) => {
    raw.write(switchingProtocols(request));
    raw.resume();
  });
  t.teardown(() => server.close());
  const socket = new WebSocket({ closeTimeoutMs: 200 });
  await within(socket.open(server.url), 5000, 'the opening');
  const started = Date.now();
  socket.close();
  await next(socket, 'disconnected', 5000);
  t.true(Date.now() - started >= 150);
  t.is(socket.closeCode(), 1006);
});

test('a protocol violation by the server closes with 1002 and a ProtocolViolation error', async (t) => {
  let wire = Buffer.alloc(0);
  const server = await startRawServer((raw, request) => {
    raw.on('data', (chunk: Buffer) => {
      wire = Buffer.concat([wire, chunk]);
      if (parseFrames(wire).some((frame) => frame.opcode === 8)) raw.end();
    });
    // A masked frame from a server is forbidden (RFC 6455 5.1).
    raw.write(Buffer.concat([Buffer.from(switchingProtocols(request)), Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61 ^ 1])]));
  });
  t.teardown(() => server.close());
  const socket = new WebSocket();
  const error = next<[WebSocketError]>(socket, 'errorOccurred');
  await within(socket.open(server.url), 5000, 'the opening');
  t.is((await error)[0].kind, SocketError.ProtocolViolation);
  await next(socket, 'disconnected');
  t.is(socket.closeCode(), 1002);
  const close = parseFrames(wire).find((frame) => frame.opcode === 8)!;
  t.true(close.masked);
  t.is(close.payload.readUInt16BE(0), 1002);
});

test('aboutToClose fires exactly once per connection', async (t) => {
  const { socket, server } = await connectedPair(t);
  let count = 0;
  socket.on('aboutToClose', () => count++);
  socket.close();
  server.terminate();
  await next(socket, 'disconnected');
  t.is(count, 1);
});

test('open() on an open socket drops it and connects again', async (t) => {
  const { peer, socket } = await connectedPair(t);
  const events = record(socket);
  const second = next<[WsSocket]>(peer.wss, 'connection');
  await within(socket.open(`${peer.url}/again`), 5000, 'the second opening');
  await second;
  t.deepEqual(events, ['aboutToClose', 'state:Unconnected', 'disconnected', 'state:Connecting', 'state:Connected']);
  t.is(socket.resourceName(), '/again');
  socket.abort();
});

test('open() with a bad URL reports the error and leaves an open connection alone', async (t) => {
  const { socket } = await connectedPair(t);
  const error = next<[WebSocketError]>(socket, 'errorOccurred');
  socket.open('gopher://example.org/').catch(() => {});
  t.is((await error)[0].kind, SocketError.UnsupportedSocketOperation);
  t.is(socket.state(), State.Connected);
  await within(socket.opened(), 1000, 'opened() still resolved');
  socket.abort();
});
