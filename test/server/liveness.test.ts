/**
 * Liveness over real sockets, in every transport: a peer that goes silent is pinged and then
 * dropped (1001, IdleTimeout), a peer that stops in the middle of a frame or of a fragmented
 * message is closed (1001, FrameTimeout, Qt's rule), and a peer that answers the pings stays
 * open. Timeouts are small; every wait is for an event, with a bound.
 */
import { Buffer } from 'node:buffer';
import test from 'ava';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { CloseCode, SecureMode, SocketError, State, WebSocket, WebSocketServer, type WebSocketError } from '../../src/index.ts';
import { clientFrame, decodeFrames, type DecodedFrame } from '../helpers/frames.ts';
import { EchoHandlerUrl, bothTransports, connect, framesUntilClosed, next, rawUpgrade, startServer, upgradeRequest, within } from './support.ts';
import { startRawServer, switchingProtocols } from '../client/support.ts';

function closeCodeOf(frame: DecodedFrame | undefined): number {
  return frame !== undefined && frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 0;
}

/** The server-side socket of the next connection, its first error, and its end. */
function nextServerSocket(server: Awaited<ReturnType<typeof startServer>>): Promise<{ socket: WebSocket; error: Promise<WebSocketError>; gone: Promise<unknown> }> {
  return new Promise((resolve) => server.once('newConnection', (handed) => {
    const socket = handed ?? server.nextPendingConnection()!;
    resolve({ socket, error: next<[WebSocketError]>(socket, 'errorOccurred', 10_000).then(([error]) => error), gone: next(socket, 'disconnected', 10_000) });
  }));
}

bothTransports('a silent peer is pinged, then dropped with 1001 and IdleTimeout', async (t, workers) => {
  const server = await startServer(t, workers, { idleTimeout: 150, pongTimeout: 150, frameTimeout: 0 });
  const accepted = nextServerSocket(server);
  const startedAt = performance.now();
  const { socket: raw, status } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(status, 101);
  const frames = framesUntilClosed(raw);
  const { socket, error, gone } = await accepted;
  const received = await frames;
  t.deepEqual(received.map((frame) => frame.opcode), [OpCode.Ping, OpCode.Close], 'one automatic Ping, then our Close');
  t.is(closeCodeOf(received[1]), CloseCode.GoingAway);
  t.true(performance.now() - startedAt >= 300, 'not before the idle and pong timeouts have both passed');
  t.is((await error).kind, SocketError.IdleTimeout);
  await gone;
  t.is(socket.closeCode(), CloseCode.GoingAway);
  t.is(socket.error(), SocketError.IdleTimeout);
});

bothTransports('a peer that stops in the middle of a frame is closed with 1001 and FrameTimeout', async (t, workers) => {
  const server = await startServer(t, workers, { idleTimeout: 0, frameTimeout: 200 });
  const accepted = nextServerSocket(server);
  const { socket: raw } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  const frames = framesUntilClosed(raw);
  // A frame that declares 100 bytes and brings 10.
  raw.write(clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(100, 7) }).subarray(0, 2 + 4 + 10));
  const { socket, error, gone } = await accepted;
  const received = await frames;
  t.deepEqual(received.map((frame) => frame.opcode), [OpCode.Close]);
  t.is(closeCodeOf(received[0]), CloseCode.GoingAway);
  t.is((await error).kind, SocketError.FrameTimeout);
  await gone;
  t.is(socket.closeCode(), CloseCode.GoingAway);
});

bothTransports('a fragmented message that stops arriving is closed with 1001 and FrameTimeout', async (t, workers) => {
  const server = await startServer(t, workers, { idleTimeout: 0, frameTimeout: 200, handler: EchoHandlerUrl });
  const accepted = nextServerSocket(server);
  const { socket: raw } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  const frames = framesUntilClosed(raw);
  // Whole frames, but the message never gets its last one.
  raw.write(Buffer.concat([clientFrame({ opcode: OpCode.Text, fin: false, payload: 'half ' }), clientFrame({ opcode: OpCode.Continuation, fin: false, payload: 'a message' })]));
  const { error, gone } = await accepted;
  const received = await frames;
  t.deepEqual(received.map((frame) => frame.opcode), [OpCode.Close]);
  t.is(closeCodeOf(received[0]), CloseCode.GoingAway);
  t.is((await error).kind, SocketError.FrameTimeout);
  await gone;
});

bothTransports('a peer that answers the pings stays open, and is served', async (t, workers) => {
  // Pings come fast; each answer may take a busy machine a while.
  const server = await startServer(t, workers, { idleTimeout: 60, pongTimeout: 1000 });
  const accepted = nextServerSocket(server);
  const client = await connect(t, `ws://127.0.0.1:${server.serverPort()}/`);
  const { socket } = await accepted;
  socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
  let errors = 0;
  socket.on('errorOccurred', () => errors++);
  // `ws` answers every Ping with a Pong: five rounds of idle timeout, each answered.
  await within(new Promise<void>((resolve) => {
    let pings = 0;
    client.on('ping', () => { if (++pings === 5) resolve(); });
  }), 10_000, 'five automatic pings');
  t.is(socket.state(), State.Connected);
  t.is(errors, 0);
  const echoed = next<[Buffer]>(client, 'message');
  client.send('still here');
  t.is(String((await echoed)[0]), 'still here');
});

bothTransports('a socket setter applies to an open connection (idle timeout turned on after the upgrade)', async (t, workers) => {
  const server = await startServer(t, workers, { idleTimeout: 0 });
  t.is(server.idleTimeout(), 0);
  const accepted = nextServerSocket(server);
  const client = await connect(t, `ws://127.0.0.1:${server.serverPort()}/`);
  const { socket } = await accepted;
  t.is(socket.idleTimeout(), 0);
  t.is(socket.frameTimeout(), server.frameTimeout());
  socket.setIdleTimeout(50);
  t.is(socket.idleTimeout(), 50);
  await next(client, 'ping', 5000);
  t.pass();
});

test('liveness getters and setters: server defaults, validation, 0 disables', (t) => {
  const server = new WebSocketServer('defaults', SecureMode.NonSecure, { workers: 0 });
  t.is(server.idleTimeout(), 90_000);
  t.is(server.pongTimeout(), 30_000);
  t.is(server.frameTimeout(), 5000);
  server.setIdleTimeout(0);
  server.setPongTimeout(1);
  server.setFrameTimeout(0);
  t.deepEqual([server.idleTimeout(), server.pongTimeout(), server.frameTimeout()], [0, 1, 0]);
  for (const bad of [-1, Number.NaN, Infinity]) {
    t.throws(() => server.setIdleTimeout(bad), { name: 'InvalidArgumentError' });
    t.throws(() => new WebSocket({ frameTimeout: bad }), { name: 'InvalidArgumentError' });
  }
  const client = new WebSocket();
  t.deepEqual([client.idleTimeout(), client.pongTimeout(), client.frameTimeout()], [0, 0, 5000]);
  client.setPongTimeout(250);
  t.is(client.pongTimeout(), 250);
});

test('a client pings a silent server and drops it with 1001 and IdleTimeout', async (t) => {
  const served: Buffer[] = [];
  const raw = await startRawServer((socket, request) => {
    socket.write(switchingProtocols(request));
    socket.on('data', (chunk: Buffer) => served.push(chunk));
  });
  t.teardown(() => raw.close());
  const client = new WebSocket({ idleTimeout: 100, pongTimeout: 100 });
  t.teardown(() => client.abort());
  await client.open(raw.url);
  const [error] = await next<[WebSocketError]>(client, 'errorOccurred', 5000);
  t.is(error.kind, SocketError.IdleTimeout);
  await next(client, 'disconnected', 5000);
  t.is(client.closeCode(), CloseCode.GoingAway);
  t.deepEqual(decodeFrames(Buffer.concat(served)).map((frame) => frame.opcode), [OpCode.Ping, OpCode.Close]);
});

test('a client closes a server that stops in the middle of a frame (Qt default: 5 s; here 150 ms)', async (t) => {
  const raw = await startRawServer((socket, request) => {
    socket.write(switchingProtocols(request));
    // A text frame declaring 50 bytes, with 3 of them.
    socket.write(Buffer.from([0x81, 50, 0x61, 0x62, 0x63]));
  });
  t.teardown(() => raw.close());
  const client = new WebSocket({ frameTimeout: 150 });
  t.teardown(() => client.abort());
  await client.open(raw.url);
  const [error] = await next<[WebSocketError]>(client, 'errorOccurred', 5000);
  t.is(error.kind, SocketError.FrameTimeout);
  t.is(error.closeCode, CloseCode.GoingAway);
});
