import test from 'ava';
import { SocketError, State, WebSocket, WebSocketError } from '../../src/index.ts';
import { closedPort, next, rejection, startRawServer, startWsServer, switchingProtocols, within, type RawRequest } from './support.ts';
import type net from 'node:net';

interface Outcome {
  error: WebSocketError;
  signalled: WebSocketError[];
  states: State[];
  disconnected: boolean;
  socket: WebSocket;
}

/** Opens `url`, expects the opening to fail, and records what the socket reported on the way. */
async function failedOpen(url: string, configure: (socket: WebSocket) => void = () => {}, options: Parameters<WebSocket['open']>[1] = {}): Promise<Outcome> {
  const socket = new WebSocket();
  configure(socket);
  const signalled: WebSocketError[] = [];
  const states: State[] = [];
  let disconnected = false;
  socket.on('errorOccurred', (error) => signalled.push(error));
  socket.on('stateChanged', (state) => states.push(state));
  socket.on('disconnected', () => {
    disconnected = true;
  });
  const error = await within(socket.open(url, options).then(() => {
    throw new Error('open() resolved; a failure was expected');
  }, (thrown: unknown) => thrown as WebSocketError), 15_000, 'the opening to fail');
  return { error, signalled, states, disconnected, socket };
}

function assertFailure(t: import('ava').ExecutionContext, outcome: Outcome, kind: SocketError, message?: RegExp): void {
  t.true(outcome.error instanceof WebSocketError);
  t.is(outcome.error.kind, kind, outcome.error.message);
  if (message !== undefined) t.regex(outcome.error.message, message);
  t.deepEqual(outcome.signalled, [outcome.error]);
  t.deepEqual(outcome.states, [State.Connecting, State.Unconnected]);
  t.true(outcome.disconnected);
  t.is(outcome.socket.state(), State.Unconnected);
  t.is(outcome.socket.error(), kind);
  t.is(outcome.socket.errorString(), outcome.error.message);
  t.is(outcome.socket.closeCode(), 1006);
}

/** A raw server answering every upgrade with `answer(request)` and then ending the connection. */
async function answering(t: import('ava').ExecutionContext, answer: (request: RawRequest) => string, end = true) {
  const server = await startRawServer((socket: net.Socket, request) => {
    if (end) socket.end(answer(request));
    else socket.write(answer(request));
  });
  t.teardown(() => server.close());
  return server;
}

test('a refused port fails with ConnectionRefused', async (t) => {
  const port = await closedPort();
  assertFailure(t, await failedOpen(`ws://127.0.0.1:${port}/`), SocketError.ConnectionRefused);
});

test('an unknown host fails with HostNotFound', async (t) => {
  assertFailure(t, await failedOpen('ws://nonexistent.invalid/'), SocketError.HostNotFound, /nonexistent\.invalid/);
});

test('a scheme other than ws/wss is UnsupportedSocketOperation, without leaving Unconnected', async (t) => {
  const socket = new WebSocket();
  const states: State[] = [];
  socket.on('stateChanged', (state) => states.push(state));
  const signalled = next<[WebSocketError]>(socket, 'errorOccurred');
  const error = await rejection<WebSocketError>(socket.open('http://127.0.0.1:1/'));
  t.is(error.kind, SocketError.UnsupportedSocketOperation);
  t.regex(error.message, /Unsupported WebSocket scheme: http/);
  t.is((await signalled)[0], error);
  t.deepEqual(states, []);
  t.is(socket.state(), State.Unconnected);
});

test('an unparseable URL is an error, not an exception', async (t) => {
  const socket = new WebSocket();
  const error = await rejection<WebSocketError>(socket.open('not a url'));
  t.true(error instanceof WebSocketError);
  t.is(error.kind, SocketError.ConnectionRefused);
  t.regex(error.message, /Invalid URL/);
});

test('403 fails with HandshakeFailed naming the status, and the response stays readable', async (t) => {
  const server = await answering(t, () => 'HTTP/1.1 403 Forbidden\r\nX-Reason: go away\r\nContent-Length: 0\r\n\r\n');
  const outcome = await failedOpen(`${server.url}/private`);
  assertFailure(t, outcome, SocketError.HandshakeFailed, /403 Forbidden/);
  const response = outcome.socket.handshakeResponse();
  t.is(response?.status, 403);
  t.is(response?.statusText, 'Forbidden');
  t.deepEqual(response?.headers.find(([name]) => name === 'X-Reason'), ['X-Reason', 'go away']);
});

test('a wrong Sec-WebSocket-Accept fails with HandshakeFailed', async (t) => {
  const server = await answering(t, () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
  assertFailure(t, await failedOpen(server.url), SocketError.HandshakeFailed, /Sec-WebSocket-Accept mismatch/);
});

test('a subprotocol that was not offered fails with HandshakeFailed', async (t) => {
  const server = await answering(t, (request) => switchingProtocols(request, ['Sec-WebSocket-Protocol: evil']), false);
  const outcome = await failedOpen(server.url, () => {}, { subprotocols: ['chat'] });
  assertFailure(t, outcome, SocketError.HandshakeFailed, /subprotocol "evil", which was not offered/);
  t.is(outcome.socket.subprotocol(), '');
});

test('an extension that was not offered fails with HandshakeFailed', async (t) => {
  const server = await answering(t, (request) => switchingProtocols(request, ['Sec-WebSocket-Extensions: permessage-deflate']), false);
  assertFailure(t, await failedOpen(server.url, () => {}, { deflate: false }), SocketError.HandshakeFailed, /permessage-deflate, which was not offered/);
});

// RFC 7692 section 5: the client fails the connection on an answer it cannot take.
const badDeflateAnswers: Array<[answer: string, reason: RegExp]> = [
  ['permessage-deflate; server_max_window_bits=16', /server_max_window_bits must be 8..15/],
  ['permessage-deflate; client_max_window_bits', /client_max_window_bits in an answer needs a value/],
  ['permessage-deflate; x-unknown', /unknown parameter x-unknown/],
  ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /appears more than once/],
  ['permessage-deflate, permessage-deflate', /answered twice/],
];
for (const [answer, reason] of badDeflateAnswers) {
  test(`a permessage-deflate answer the client cannot take fails the opening: ${answer}`, async (t) => {
    const server = await answering(t, (request) => switchingProtocols(request, [`Sec-WebSocket-Extensions: ${answer}`]), false);
    assertFailure(t, await failedOpen(server.url), SocketError.HandshakeFailed, reason);
  });
}

test('a server_max_window_bits larger than offered fails the opening', async (t) => {
  const server = await answering(t, (request) => switchingProtocols(request, ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12']), false);
  const outcome = await failedOpen(server.url, () => {}, { deflate: { offers: [{ serverMaxWindowBits: 10 }] } });
  assertFailure(t, outcome, SocketError.HandshakeFailed, /larger than the 10 offered/);
  t.deepEqual(outcome.socket.extensions(), []);
});

test('a redirect is an error unless followRedirects is set', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const server = await answering(t, () => `HTTP/1.1 302 Found\r\nLocation: ${peer.url}/landed\r\nContent-Length: 0\r\n\r\n`);
  const outcome = await failedOpen(`${server.url}/start`);
  assertFailure(t, outcome, SocketError.HandshakeFailed, /302 Found.*redirect to ws:\/\/127\.0\.0\.1:\d+\/landed.*not followed unless followRedirects/);
  t.is(outcome.socket.handshakeResponse()?.status, 302);

  const socket = new WebSocket();
  const arrived = next<[import('ws').WebSocket, import('node:http').IncomingMessage]>(peer.wss, 'connection');
  await within(socket.open(`${server.url}/start`, { followRedirects: 1 }), 5000, 'the redirected opening');
  const [, request] = await arrived;
  t.is(request.url, '/landed');
  t.is(socket.state(), State.Connected);
  t.is(socket.requestUrl(), `${peer.url}/landed`);
  t.is(socket.handshakeResponse()?.status, 101);
  socket.abort();
});

test('followRedirects bounds the number of redirects', async (t) => {
  let hops = 0;
  const server = await startRawServer((socket, request) => {
    hops++;
    const here = /GET \/(\d+)/.exec(request.text)?.[1] ?? '0';
    socket.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: /${Number(here) + 1}\r\nContent-Length: 0\r\n\r\n`);
  });
  t.teardown(() => server.close());
  const outcome = await failedOpen(`${server.url}/0`, () => {}, { followRedirects: 2 });
  assertFailure(t, outcome, SocketError.HandshakeFailed, /not followed beyond 2/);
  t.is(hops, 3);
});

test('a server that never answers fails with HandshakeTimeout', async (t) => {
  const server = await startRawServer(() => {});
  t.teardown(() => server.close());
  const outcome = await failedOpen(server.url, (socket) => socket.setHandshakeTimeout(300));
  assertFailure(t, outcome, SocketError.HandshakeTimeout, /within 300 ms/);
  t.is(outcome.socket.handshakeResponse(), undefined);
  await within((async () => {
    while (server.sockets.size > 0) await next(server.sockets.values().next().value!, 'close');
  })(), 5000, 'the server to see the connection dropped');
});

test('a server that closes during the handshake fails with RemoteHostClosed', async (t) => {
  const server = await startRawServer((socket) => socket.end('HTTP/1.1 101 Switching'));
  t.teardown(() => server.close());
  assertFailure(t, await failedOpen(server.url), SocketError.RemoteHostClosed, /during the opening handshake/);
});

test('a malformed response fails with HandshakeFailed', async (t) => {
  const server = await answering(t, () => 'SSH-2.0-OpenSSH\r\n\r\n');
  assertFailure(t, await failedOpen(server.url), SocketError.HandshakeFailed, /malformed status line/);
});

test('bad headers, origin or subprotocols throw InvalidArgumentError from open()', (t) => {
  const socket = new WebSocket();
  t.throws(() => socket.open('ws://127.0.0.1:1/', { headers: { 'X-Evil': 'a\r\nInjected: yes' } }), { name: 'InvalidArgumentError' });
  t.throws(() => socket.open('ws://127.0.0.1:1/', { subprotocols: ['bad name'] }), { name: 'InvalidArgumentError' });
  t.throws(() => socket.open('ws://127.0.0.1:1/', { origin: 'https://x\r\n' }), { name: 'InvalidArgumentError' });
  t.throws(() => socket.open('ws://127.0.0.1:1/', { headers: { Upgrade: 'h2c' } }), { name: 'InvalidArgumentError' });
  t.is(socket.state(), State.Unconnected);
});
