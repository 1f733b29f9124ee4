/**
 * permessage-deflate against `ws` (an independent implementation), both ways and both memory
 * modes, over both transports: our server with ws's client, our client with ws's server, text and
 * binary from 0 B to 16 MiB, and that what goes on the wire is really compressed.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import WS, { WebSocketServer as WsServer, type PerMessageDeflateOptions } from 'ws';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { WebSocket } from '../../src/shared/connection/websocket.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import type { ClientDeflateOptions } from '../../src/shared/engine/permessage-deflate.ts';
import { bothTransports, connect, echoEveryConnection, nextMessage, startServer, within, next } from './support.ts';

const Sizes = [0, 1, 125, 126, 65_535, 65_536, 1024 * 1024, 16 * 1024 * 1024];

/** Compressible, but not trivially: a random kilobyte repeated, with a counter mixed in. */
function payload(size: number): Buffer {
  const unit = randomBytes(1024);
  const data = Buffer.alloc(size);
  for (let at = 0; at < size; at += 1024) {
    unit.copy(data, at);
    if (at + 4 <= size) data.writeUInt32LE(at, at);
  }
  return data;
}

function text(size: number): string {
  // Multi-byte characters (of the BMP, so that slicing cuts no pair), so that frames split inside a character.
  return 'aé€{"key":"value"} '.repeat(Math.ceil(size / 18)).slice(0, size);
}

for (const mode of ['shared', 'dedicated'] as const) {
  bothTransports(`ws client → our server (${mode}): text and binary from 0 B to 16 MiB, compressed on the wire`, async (t, workers) => {
    const server = await startServer(t, workers, { perMessageDeflate: { mode, threshold: 0 }, maxAllowedIncomingMessageSize: 32 * 1024 * 1024 });
    let written = 0;
    const sockets = echoEveryConnection(server, (socket) => socket.on('bytesWritten', (bytes) => { written += bytes; }));
    const client = await connect(t, server.serverUrl(), undefined, { perMessageDeflate: { threshold: 0 }, maxPayload: 32 * 1024 * 1024 });
    await within((async () => { while (sockets.length === 0) await new Promise((resolve) => setImmediate(resolve)); })(), 5000, 'the server socket');
    const agreed = mode === 'shared' ? 'permessage-deflate; server_no_context_takeover; client_no_context_takeover' : 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';
    t.deepEqual(sockets[0]!.extensions(), [agreed]);
    t.is(client.extensions, 'permessage-deflate');
    let sent = 0;
    for (const size of Sizes) {
      const binary = payload(size);
      const reply = nextMessage(client, 60_000);
      client.send(binary);
      const [data, isBinary] = await reply;
      t.true(isBinary && data.equals(binary), `binary ${size} bytes`);
      const message = text(size);
      const textReply = nextMessage(client, 60_000);
      client.send(message);
      const [echoed, echoedBinary] = await textReply;
      t.true(!echoedBinary && echoed.toString() === message, `text ${size} bytes`);
      sent += binary.length + Buffer.byteLength(message);
    }
    await within((async () => { while (written === 0) await new Promise((resolve) => setImmediate(resolve)); })(), 5000, 'bytesWritten');
    t.true(written < sent / 4, `the server wrote ${written} bytes for ${sent} payload bytes`);
  }, true);
}

/** A ws echo server with `options` for its perMessageDeflate, closed when the test ends. */
async function wsEchoServer(t: ExecutionContext, options: PerMessageDeflateOptions): Promise<string> {
  const server = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: options, maxPayload: 32 * 1024 * 1024 });
  t.teardown(() => new Promise<void>((resolve) => { for (const client of server.clients) client.terminate(); server.close(() => resolve()); }));
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

async function ourClient(t: ExecutionContext, url: string, deflate: boolean | ClientDeflateOptions = { threshold: 0 }): Promise<WebSocket> {
  const socket = new WebSocket();
  socket.setMaxAllowedIncomingMessageSize(32 * 1024 * 1024);
  t.teardown(() => socket.abort());
  await within(socket.open(url, { deflate }), 20_000, 'the opening');
  return socket;
}

async function echo(socket: WebSocket, message: string | Buffer): Promise<string | Uint8Array> {
  const reply = typeof message === 'string' ? next(socket, 'textMessageReceived', 60_000) : next(socket, 'binaryMessageReceived', 60_000);
  if (typeof message === 'string') socket.sendTextMessage(message);
  else socket.sendBinaryMessage(message);
  return (await reply)[0] as string | Uint8Array;
}

const wsServerConfigurations: Array<[title: string, options: PerMessageDeflateOptions, agreed: string]> = [
  ['defaults', { threshold: 0 }, 'permessage-deflate'],
  ['all four parameters', { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    'permessage-deflate; client_max_window_bits=9; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10'],
];

for (const [title, options, agreed] of wsServerConfigurations) {
  // Serial, as every 16 MiB test here: several at once only measure the machine.
  test.serial(`our client → ws server (${title}): text and binary from 0 B to 16 MiB`, async (t) => {
    const url = await wsEchoServer(t, options);
    const socket = await ourClient(t, url);
    t.deepEqual(socket.extensions(), [agreed]);
    for (const size of Sizes) {
      const binary = payload(size);
      t.true(Buffer.from(await echo(socket, binary) as Uint8Array).equals(binary), `binary ${size} bytes`);
      const message = text(size);
      t.true(await echo(socket, message) === message, `text ${size} bytes`);
    }
  });
}

test('our client offers deflate by default and not with deflate: false', async (t) => {
  const url = await wsEchoServer(t, {});
  t.deepEqual((await ourClient(t, url, true)).extensions(), ['permessage-deflate']);
  t.deepEqual((await ourClient(t, url, false)).extensions(), []);
});

test('a ws client that offers nothing gets no extension, and a server with deflate off declines', async (t) => {
  const on = await startServer(t, 0, { perMessageDeflate: 'shared' });
  echoEveryConnection(on);
  t.is((await connect(t, on.serverUrl(), undefined, { perMessageDeflate: false })).extensions, '');
  const off = await startServer(t, 0);
  echoEveryConnection(off);
  const client = await connect(t, off.serverUrl(), undefined, { perMessageDeflate: true });
  t.is(client.extensions, '');
  const reply = nextMessage(client);
  client.send('plain');
  t.is((await reply)[0].toString(), 'plain');
});

test('per-send opt-out: { compress: false } reaches a ws peer as an uncompressed message', async (t) => {
  const url = await wsEchoServer(t, { threshold: 0 });
  const socket = await ourClient(t, url);
  let written = 0;
  socket.on('bytesWritten', (bytes) => { written += bytes; });
  const message = 'x'.repeat(100_000);
  const reply = next(socket, 'textMessageReceived', 10_000);
  socket.sendTextMessage(message, { compress: false });
  t.is((await reply)[0], message);
  t.true(written > 100_000, `${written} bytes written`);
});

test('WebSocketServer: perMessageDeflate() and setPerMessageDeflate() apply to new handshakes', async (t) => {
  const server = await startServer(t, 2);
  echoEveryConnection(server);
  t.is(server.perMessageDeflate(), null);
  server.setPerMessageDeflate({ mode: 'dedicated', windowBits: 10 });
  t.like(server.perMessageDeflate(), { mode: 'dedicated', windowBits: 10 });
  const socket = await ourClient(t, server.serverUrl());
  t.deepEqual(socket.extensions(), ['permessage-deflate; server_max_window_bits=10; client_max_window_bits=10']);
  t.is(await echo(socket, 'through the pool'), 'through the pool');
  t.throws(() => server.setPerMessageDeflate({ windowBits: 20 }), { message: /windowBits must be an integer from 9 to 15/ });
});

test('a bomb from a ws-compatible client closes with 1009 on a pool connection', async (t) => {
  const server = await startServer(t, 2, { perMessageDeflate: 'shared', maxAllowedIncomingMessageSize: 1024 * 1024 });
  echoEveryConnection(server);
  const client = await connect(t, server.serverUrl(), undefined, { perMessageDeflate: { threshold: 0 } });
  const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
  client.send(Buffer.alloc(64 * 1024 * 1024));
  t.is(await within(closed, 20_000, 'the close'), 1009);
});

// ---- Autobahn 12.x / 13.x in spirit ---------------------------------------------------------------
// 12.x: payload sizes from 16 B to 128 KiB, sent whole and fragmented, many messages in a row so
// that context takeover is exercised. 13.x: the same under each offer a client may make. Our client
// talks to our server through the pool, with the server fragmenting its replies too.

const AutobahnSizes = [16, 64, 256, 1024, 4096, 8192, 16_384, 32_768, 65_536, 131_072];
const AutobahnFragments = [0, 256, 1024, 4096];
const AutobahnOffers: Array<[title: string, options: ClientDeflateOptions]> = [
  ['13.1 the default offer', {}],
  ['13.2 client_no_context_takeover', { offers: [{ clientNoContextTakeover: true }] }],
  ['13.3 client_max_window_bits=9', { offers: [{ clientMaxWindowBits: 9 }] }],
  ['13.4 client_max_window_bits=15', { offers: [{ clientMaxWindowBits: 15 }] }],
  ['13.5 server_max_window_bits=8 with no context takeover', { offers: [{ serverMaxWindowBits: 8, serverNoContextTakeover: true, clientNoContextTakeover: true }] }],
  ['13.6 server_max_window_bits=9', { offers: [{ serverMaxWindowBits: 9 }] }],
  ['13.7 several offers, windows of 8 first', { offers: [{ serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, { clientNoContextTakeover: true }] }],
];

/** JSON-like text of `size` bytes, different for each message. */
function jsonLike(size: number, seed: number): string {
  let out = '';
  for (let i = 0; out.length < size; i++) out += `{"id":${seed * 1000 + i},"name":"user${(seed * 31 + i) % 97}","tags":["a","b"]},`;
  return out.slice(0, size);
}

/** One pool server per mode for the whole table (starting 14 pools at once only measures the machine). */
const autobahnServers = new Map<string, WebSocketServer>();
test.before(async () => {
  for (const mode of ['shared', 'dedicated'] as const) {
    const server = new WebSocketServer('autobahn', SecureMode.NonSecure, { workers: 2, perMessageDeflate: { mode, threshold: 0, windowBits: 11 }, outgoingFrameSize: 1000 });
    echoEveryConnection(server);
    if (!(await server.listen('127.0.0.1', 0))) throw new Error(server.errorString());
    autobahnServers.set(mode, server);
  }
});
test.after.always(async () => {
  for (const server of autobahnServers.values()) await within(server.destroy(), 15_000, 'destroy');
});

for (const mode of ['shared', 'dedicated'] as const) {
  for (const [title, options] of AutobahnOffers) {
    test(`Autobahn ${title}, ${mode} server: every size, whole and fragmented, both ways`, async (t) => {
      const socket = await ourClient(t, autobahnServers.get(mode)!.serverUrl(), { ...options, threshold: 0 });
      t.is(socket.extensions().length, 1);
      let seed = 0;
      for (const fragment of AutobahnFragments) {
        socket.setOutgoingFrameSize(fragment === 0 ? 16 * 1024 * 1024 : fragment);
        for (const size of AutobahnSizes) {
          const replies: Array<string | Uint8Array> = [];
          const expected: Array<string | Buffer> = [];
          const done = within(new Promise<void>((resolve) => {
            const onMessage = (message: string | Uint8Array): void => {
              replies.push(message);
              if (replies.length === 4) resolve();
            };
            socket.on('textMessageReceived', onMessage);
            socket.on('binaryMessageReceived', onMessage);
          }), 20_000, `echoes of ${size} bytes in ${fragment}-byte frames`);
          for (let i = 0; i < 2; i++) {
            const message = jsonLike(size, seed++);
            const binary = Buffer.from(jsonLike(size, seed++));
            expected.push(message, binary);
            socket.sendTextMessage(message);
            socket.sendBinaryMessage(binary);
          }
          await done;
          socket.removeAllListeners('textMessageReceived');
          socket.removeAllListeners('binaryMessageReceived');
          t.deepEqual(replies.map((r) => (typeof r === 'string' ? r : Buffer.from(r).toString())), expected.map((e) => e.toString()), `${size} bytes in ${fragment}-byte frames`);
        }
      }
    });
  }
}
