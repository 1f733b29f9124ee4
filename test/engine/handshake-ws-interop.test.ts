/**
 * Cross-checks against the `ws` package over real loopback sockets: our server-side parser and
 * responses with ws's client, and our client request and response parser with ws's server.
 */
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { ServerHandshakeParser, type HandshakeRequest } from '../../src/shared/engine/handshake-request.ts';
import { buildAcceptResponse, buildErrorResponse } from '../../src/shared/engine/handshake-response.ts';
import { buildClientRequest, ClientHandshakeParser, type ClientHandshakeResult } from '../../src/shared/engine/client-handshake.ts';

const TIMEOUT_MS = 5000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A plain TCP server that runs our server-side handshake on its first connection. */
async function startOurServer(answer: (request: HandshakeRequest) => Uint8Array) {
  const sockets = new Set<net.Socket>();
  let resolveRequest!: (value: { request: HandshakeRequest; rest: Uint8Array; chunks: number }) => void;
  let rejectRequest!: (error: Error) => void;
  const requestSeen = new Promise<{ request: HandshakeRequest; rest: Uint8Array; chunks: number }>((resolve, reject) => {
    resolveRequest = resolve;
    rejectRequest = reject;
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const parser = new ServerHandshakeParser();
    let chunks = 0;
    const onData = (chunk: Buffer) => {
      chunks++;
      const result = parser.feed(chunk);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      if (result.kind === 'reject') {
        socket.end(buildErrorResponse(result.status, result.reason, result.headers));
        rejectRequest(new Error(`rejected: ${result.status} ${result.reason}`));
        return;
      }
      socket.write(answer(result.request));
      resolveRequest({ request: result.request, rest: result.rest, chunks });
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    requestSeen,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

test('ws client → our parser and buildAcceptResponse: ws reaches open with the chosen subprotocol', async (t) => {
  const server = await startOurServer((request) => buildAcceptResponse({ key: request.key, subprotocol: request.subprotocols[1]!, serverName: 'wsthreads-test' }));
  t.teardown(() => server.close());
  const client = new WebSocket(`ws://127.0.0.1:${server.port}/path/x?q=1`, ['first', 'second'], {
    origin: 'http://origin.example',
    headers: { 'X-Custom': 'yes' },
  });
  client.on('error', () => {});
  t.teardown(() => client.terminate());

  const opened = within(once(client, 'open'), 'the ws client to open');
  const { request, rest } = await within(server.requestSeen, 'the request');
  await opened;

  t.is(client.protocol, 'second');
  t.is(request.method, 'GET');
  t.is(request.resourceName, '/path/x?q=1');
  t.is(request.path, '/path/x');
  t.is(request.query, 'q=1');
  t.is(request.host, `127.0.0.1:${server.port}`);
  t.is(request.origin, 'http://origin.example');
  t.deepEqual(request.subprotocols, ['first', 'second']);
  t.deepEqual(request.extensions, [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }]);
  t.is(request.headers['x-custom'], 'yes');
  t.is(rest.length, 0);
});

test('ws client sees our 426 with its status code', async (t) => {
  // ws only sends version 13 or 8; ask for 8 so that our parser answers 426.
  const server = await startOurServer(() => new Uint8Array(0));
  t.teardown(() => server.close());
  server.requestSeen.catch(() => {});
  const client = new WebSocket(`ws://127.0.0.1:${server.port}/`, { protocolVersion: 8 });
  client.on('error', () => {});
  t.teardown(() => client.terminate());
  const [, res] = (await within(once(client, 'unexpected-response'), 'the unexpected response')) as [unknown, import('node:http').IncomingMessage];
  t.is(res.statusCode, 426);
  t.is(res.statusMessage, 'Upgrade Required');
  t.is(res.headers['sec-websocket-version'], '13');
  t.is(res.headers['connection'], 'close');
  const body: Buffer[] = [];
  for await (const piece of res) body.push(piece as Buffer);
  t.regex(Buffer.concat(body).toString(), /Unsupported WebSocket version 8/);
});

/** Connects to `port`, writes `request`, and feeds every byte that comes back to `parser`. */
async function rawHandshake(port: number, request: Uint8Array, parser: ClientHandshakeParser, wantAfter: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await within(once(socket, 'connect'), 'the TCP connection');
  socket.write(request);
  return within(
    new Promise<{ result: ClientHandshakeResult; after: Buffer; socket: net.Socket }>((resolve, reject) => {
      let result: ClientHandshakeResult = { kind: 'incomplete' };
      let after = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        if (result.kind === 'incomplete') {
          result = parser.feed(chunk);
          if (result.kind === 'accepted') after = Buffer.from(result.rest);
          if (result.kind === 'failed') return resolve({ result, after, socket });
        } else {
          after = Buffer.concat([after, chunk]);
        }
        if (result.kind === 'accepted' && after.length >= wantAfter) resolve({ result, after, socket });
      });
      socket.on('close', () => reject(new Error('connection closed before the expected bytes')));
    }),
    'the handshake response',
  );
}

test('our buildClientRequest → ws WebSocketServer; our parser accepts its 101 and the first frame follows untouched', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, handleProtocols: (protocols) => ([...protocols].includes('b') ? 'b' : false) });
  await within(once(wss, 'listening'), 'ws to listen');
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const seen = new Promise<{ url: string | undefined; origin: string | undefined }>((resolve) => {
    wss.on('connection', (ws, req) => {
      ws.send('hello'); // goes out right behind the 101, often in the same TCP segment
      resolve({ url: req.url, origin: req.headers.origin });
    });
  });
  const { port } = wss.address() as net.AddressInfo;

  const { bytes, key } = buildClientRequest({
    host: `127.0.0.1:${port}`,
    resourceName: '/room/1?x=y',
    origin: 'http://app.example',
    subprotocols: ['a', 'b'],
    extensions: [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }],
  });
  const parser = new ClientHandshakeParser({ key, subprotocols: ['a', 'b'], extensions: ['permessage-deflate'] });
  const { result, after, socket } = await rawHandshake(port, bytes, parser, 2);
  t.teardown(() => socket.destroy());

  if (result.kind !== 'accepted') return t.fail(JSON.stringify(result));
  t.is(result.subprotocol, 'b');
  t.is(result.extensions.length, 1);
  t.is(result.extensions[0]!.name, 'permessage-deflate');
  t.is(result.response.status, 101);
  const { url, origin } = await within(seen, 'ws connection event');
  t.is(url, '/room/1?x=y');
  t.is(origin, 'http://app.example');
  // The first frame: FIN + text opcode, with RSV1 when ws compressed it; unmasked from a server.
  t.is(after[0]! & 0x8f, 0x81);
  t.is(after[1]! & 0x80, 0);
});

test('our buildClientRequest → ws WebSocketServer without extensions: the uncompressed frame is intact', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(once(wss, 'listening'), 'ws to listen');
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  wss.on('connection', (ws) => ws.send('hello'));
  const { port } = wss.address() as net.AddressInfo;

  const { bytes, key } = buildClientRequest({ host: `127.0.0.1:${port}`, resourceName: '/' });
  const { result, after, socket } = await rawHandshake(port, bytes, new ClientHandshakeParser({ key }), 7);
  t.teardown(() => socket.destroy());
  if (result.kind !== 'accepted') return t.fail(JSON.stringify(result));
  t.is(result.subprotocol, '');
  t.deepEqual(result.extensions, []);
  t.deepEqual([...after.subarray(0, 7)], [0x81, 0x05, ...Buffer.from('hello')]);
});

test('ws WebSocketServer rejecting our request: our parser fails with its status and headers', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: () => false });
  await within(once(wss, 'listening'), 'ws to listen');
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const { port } = wss.address() as net.AddressInfo;
  const { bytes, key } = buildClientRequest({ host: `127.0.0.1:${port}`, resourceName: '/' });
  const { result, socket } = await rawHandshake(port, bytes, new ClientHandshakeParser({ key }), 0);
  t.teardown(() => socket.destroy());
  if (result.kind !== 'failed') return t.fail(JSON.stringify(result));
  t.is(result.error.message, 'Unexpected HTTP status 401 Unauthorized');
  t.is(result.response?.status, 401);
  t.is(result.response?.headers['connection'], 'close');
});
