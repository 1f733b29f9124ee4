/**
 * The server side of the WebSocket class: `WebSocket.adopt()` over an `EngineSocketBackend` in the
 * server role, on a connection accepted by a plain net server, with a `ws` client as the peer.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import test from 'ava';
import { WebSocket as WsClient } from 'ws';
import { EngineSocketBackend, Role, State, WebSocket } from '../../src/index.ts';
import { buildAcceptResponse } from '../../src/shared/engine/handshake-response.ts';
import { ServerHandshakeParser } from '../../src/shared/engine/handshake-request.ts';
import { next, within } from '../client/support.ts';

/** A net server that does the opening handshake itself and hands each connection to `WebSocket.adopt`. */
async function startAdoptingServer(t: import('ava').ExecutionContext, closeTimeoutMs = 5000) {
  const adopted: WebSocket[] = [];
  const waiting: Array<(socket: WebSocket) => void> = [];
  const server = net.createServer((tcp) => {
    tcp.on('error', () => {});
    const parser = new ServerHandshakeParser();
    const onData = (chunk: Buffer): void => {
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      tcp.off('data', onData);
      tcp.pause();
      if (result.kind === 'reject') {
        tcp.destroy();
        return;
      }
      tcp.write(buildAcceptResponse({ key: result.request.key }));
      const backend = new EngineSocketBackend(tcp, { role: Role.Server }, result.rest, { closeTimeoutMs });
      const socket = WebSocket.adopt(backend, {
        origin: result.request.origin ?? '',
        requestUrl: `ws://${result.request.host}${result.request.resourceName}`,
        resourceName: result.request.resourceName,
        requestHeaders: result.request.rawHeaders,
        subprotocol: '',
        extensions: [],
        peerAddress: tcp.remoteAddress ?? '',
        peerPort: tcp.remotePort ?? 0,
        localAddress: tcp.localAddress ?? '',
        localPort: tcp.localPort ?? 0,
      });
      adopted.push(socket);
      const waiter = waiting.shift();
      if (waiter !== undefined) waiter(socket);
    };
    tcp.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of adopted) socket.abort();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    /** The next adopted socket; listeners added here see every message, since the backend starts on the next turn. */
    accepted: () => within(new Promise<WebSocket>((resolve) => waiting.push(resolve)), 5000, 'an adopted socket'),
  };
}

test('an adopted socket starts Connected with the request described, and echoes', async (t) => {
  const server = await startAdoptingServer(t);
  const accepted = server.accepted();
  const client = new WsClient(`${server.url}/room?x=1`, { origin: 'https://app.example' });
  const socket = await accepted;
  t.is(socket.state(), State.Connected);
  t.true(socket.isValid());
  t.is(socket.origin(), 'https://app.example');
  t.is(socket.resourceName(), '/room?x=1');
  t.true(socket.request().headers.some(([name]) => name.toLowerCase() === 'sec-websocket-key'));
  socket.on('textMessageReceived', (text) => socket.sendTextMessage(text.toUpperCase()));
  socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(Buffer.from(data).reverse()));
  await next(client, 'open');
  const replies: unknown[] = [];
  const both = new Promise<void>((resolve) => {
    client.on('message', (data: Buffer, isBinary: boolean) => {
      replies.push(isBinary ? [...data] : data.toString());
      if (replies.length === 2) resolve();
    });
  });
  client.send('shout');
  client.send(Buffer.from([1, 2, 3]));
  await within(both, 5000, 'both replies');
  t.deepEqual(replies, ['SHOUT', [3, 2, 1]]);
  client.close(1000, 'bye');
  await next(socket, 'disconnected');
  t.is(socket.closeCode(), 1000);
  t.is(socket.closeReason(), 'bye');
});

test('frames sent in the same packet as the upgrade request reach the adopted socket', async (t) => {
  const server = await startAdoptingServer(t);
  const accepted = server.accepted();
  const tcp = net.connect({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  tcp.on('error', () => {});
  t.teardown(() => tcp.destroy());
  await next(tcp, 'connect');
  const key = Buffer.alloc(16, 1).toString('base64');
  const request = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  // A masked text frame "early" (mask key 0) right behind the request.
  tcp.write(Buffer.concat([Buffer.from(request), Buffer.from([0x81, 0x85, 0, 0, 0, 0]), Buffer.from('early')]));
  const socket = await accepted;
  const [text] = await next<[string]>(socket, 'textMessageReceived');
  t.is(text, 'early');
});

test('closing from the server side: the ws client sees the code, the server ends TCP', async (t) => {
  const server = await startAdoptingServer(t);
  const accepted = server.accepted();
  const client = new WsClient(server.url);
  const socket = await accepted;
  await next(client, 'open');
  const clientClosed = next<[number, Buffer]>(client, 'close');
  socket.close(4321, 'server done');
  t.is(socket.state(), State.Closing);
  const [code, reason] = await clientClosed;
  t.is(code, 4321);
  t.is(reason.toString(), 'server done');
  await next(socket, 'disconnected');
  t.is(socket.state(), State.Unconnected);
  t.is(socket.closeCode(), 4321);
});

test('an adopted socket can be iterated with for await', async (t) => {
  const server = await startAdoptingServer(t);
  const accepted = server.accepted();
  const client = new WsClient(server.url);
  const socket = await accepted;
  const received: unknown[] = [];
  const iteration = (async () => {
    for await (const message of socket) received.push(typeof message === 'string' ? message : [...message]);
  })();
  await next(client, 'open');
  client.send('a');
  client.send(Buffer.from([7]));
  client.close();
  await within(iteration, 5000, 'the iteration to end');
  t.deepEqual(received, ['a', [7]]);
});

test('a client that never answers the server Close is dropped after the close timeout', async (t) => {
  const server = await startAdoptingServer(t, 200);
  const accepted = server.accepted();
  const tcp = net.connect({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  tcp.on('error', () => {});
  t.teardown(() => tcp.destroy());
  await next(tcp, 'connect');
  const key = Buffer.alloc(16, 2).toString('base64');
  tcp.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  // Read everything but never answer: the Close handshake cannot complete, and the half-open TCP
  // (allowHalfOpen) would otherwise stay.
  tcp.resume();
  const socket = await accepted;
  socket.close();
  await next(socket, 'disconnected', 5000);
  t.is(socket.closeCode(), 1006);
});
