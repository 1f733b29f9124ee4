import test from 'ava';
import { InvalidArgumentError, SocketError } from '../../src/shared/engine/errors.ts';
import { buildAcceptResponse, buildErrorResponse, StatusText } from '../../src/shared/engine/handshake-response.ts';
import { ClientHandshakeParser } from '../../src/shared/engine/client-handshake.ts';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const rfcKey = 'dGhlIHNhbXBsZSBub25jZQ==';

test('the RFC 6455 1.3 example response, byte for byte', (t) => {
  t.is(
    text(buildAcceptResponse({ key: rfcKey, subprotocol: 'chat' })),
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
      'Sec-WebSocket-Protocol: chat\r\n' +
      '\r\n',
  );
});

test('no subprotocol, empty subprotocol: no Sec-WebSocket-Protocol header', (t) => {
  for (const subprotocol of [undefined, '']) {
    const response = text(buildAcceptResponse({ key: rfcKey, ...(subprotocol === undefined ? {} : { subprotocol }) }));
    t.false(response.toLowerCase().includes('sec-websocket-protocol'));
    t.true(response.endsWith('\r\n\r\n'));
  }
});

test('extensions, Server and extra headers come after the handshake fields', (t) => {
  const response = text(
    buildAcceptResponse({
      key: rfcKey,
      extensions: [{ name: 'permessage-deflate', params: { server_no_context_takeover: true, client_max_window_bits: '10' } }],
      serverName: 'wsthreads test',
      headers: [['X-Request-Id', 'abc'], ['Set-Cookie', 'a=b']],
    }),
  );
  t.deepEqual(response.split('\r\n'), [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10',
    'Server: wsthreads test',
    'X-Request-Id: abc',
    'Set-Cookie: a=b',
    '',
    '',
  ]);
});

test('our client parser accepts our 101 (round trip)', (t) => {
  const response = buildAcceptResponse({ key: rfcKey, subprotocol: 'superchat', extensions: [{ name: 'x-ext', params: {} }] });
  const result = new ClientHandshakeParser({ key: rfcKey, subprotocols: ['chat', 'superchat'], extensions: ['x-ext'] }).feed(response);
  if (result.kind !== 'accepted') return t.fail(JSON.stringify(result));
  t.is(result.subprotocol, 'superchat');
  t.deepEqual(result.extensions, [{ name: 'x-ext', params: {} }]);
});

test('buildAcceptResponse refuses injection and bad arguments', (t) => {
  const bad: Parameters<typeof buildAcceptResponse>[0][] = [
    { key: 'short' },
    { key: `${rfcKey}\r\nX-Injected: 1` },
    { key: rfcKey, subprotocol: 'chat\r\nX-Injected: 1' },
    { key: rfcKey, subprotocol: 'two words' },
    { key: rfcKey, serverName: 'srv\r\nX-Injected: 1' },
    { key: rfcKey, serverName: 'srv\0' },
    { key: rfcKey, headers: [['X-Ok', 'v\nX-Injected: 1']] },
    { key: rfcKey, headers: [['X-Ok', 'v\r']] },
    { key: rfcKey, headers: [['X-Ok', 'v\0']] },
    { key: rfcKey, headers: [['X Bad', 'v']] },
    { key: rfcKey, headers: [['X-Bad\r\nX-Injected', 'v']] },
    { key: rfcKey, extensions: [{ name: 'x\r\nX-Injected: 1', params: {} }] },
    { key: rfcKey, extensions: [{ name: 'x', params: { a: '1\r\n' } }] },
  ];
  for (const options of bad) {
    t.throws(() => buildAcceptResponse(options), { instanceOf: InvalidArgumentError }, JSON.stringify(options));
  }
});

test('buildAcceptResponse refuses headers that would override the handshake', (t) => {
  for (const name of ['Upgrade', 'connection', 'Sec-WebSocket-Accept', 'SEC-WEBSOCKET-PROTOCOL', 'Sec-WebSocket-Extensions', 'Content-Length', 'Transfer-Encoding']) {
    t.throws(() => buildAcceptResponse({ key: rfcKey, headers: [[name, 'x']] }), { instanceOf: InvalidArgumentError, message: /set by the handshake/ }, name);
  }
  t.throws(() => buildAcceptResponse({ key: rfcKey, serverName: 'a', headers: [['Server', 'b']] }), { instanceOf: InvalidArgumentError });
  t.notThrows(() => buildAcceptResponse({ key: rfcKey, headers: [['Server', 'b']] }));
});

test('error responses: status line with the standard reason phrase, text body, Connection: close', (t) => {
  for (const [status, phrase] of [
    [400, 'Bad Request'],
    [403, 'Forbidden'],
    [405, 'Method Not Allowed'],
    [426, 'Upgrade Required'],
    [431, 'Request Header Fields Too Large'],
    [503, 'Service Unavailable'],
  ] as const) {
    const response = text(buildErrorResponse(status, 'why'));
    t.is(response, `HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\n\r\nwhy`);
    t.is(StatusText[status], phrase);
  }
});

test('error response extra headers (Allow, Sec-WebSocket-Version) and a UTF-8 body length', (t) => {
  const reason = 'nicht erlaubt: ü€😀';
  const bytes = buildErrorResponse(426, reason, [['Sec-WebSocket-Version', '13']]);
  const raw = Buffer.from(bytes);
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString('latin1');
  const body = raw.subarray(split + 4);
  t.true(head.includes('\r\nSec-WebSocket-Version: 13'));
  t.is(body.toString('utf8'), reason);
  t.true(head.includes(`\r\nContent-Length: ${body.length}`));
  t.is(body.length, Buffer.byteLength(reason));
});

test('an unknown status code goes out without a reason phrase', (t) => {
  t.true(text(buildErrorResponse(499, 'x')).startsWith('HTTP/1.1 499 \r\n'));
});

test('our client parser reports our error responses with status and headers', (t) => {
  const result = new ClientHandshakeParser({ key: rfcKey }).feed(buildErrorResponse(302, 'moved', [['Location', 'ws://elsewhere.example/chat']]));
  if (result.kind !== 'failed') return t.fail(JSON.stringify(result));
  t.is(result.error.kind, SocketError.HandshakeFailed);
  t.is(result.error.message, 'Unexpected HTTP status 302 Found (redirect to ws://elsewhere.example/chat)');
  t.is(result.response?.headers['location'], 'ws://elsewhere.example/chat');
  t.is(result.response?.headers['connection'], 'close');
});

test('buildErrorResponse refuses bad statuses, reserved headers and injection', (t) => {
  for (const status of [101, 200, 299, 600, 404.5, Number.NaN]) {
    t.throws(() => buildErrorResponse(status, 'x'), { instanceOf: InvalidArgumentError }, String(status));
  }
  for (const name of ['Content-Length', 'content-type', 'Connection', 'Transfer-Encoding']) {
    t.throws(() => buildErrorResponse(400, 'x', [[name, '1']]), { instanceOf: InvalidArgumentError }, name);
  }
  t.throws(() => buildErrorResponse(400, 'x', [['X-A', 'a\r\nX-Injected: 1']]), { instanceOf: InvalidArgumentError });
  t.throws(() => buildErrorResponse(400, 'x', [['X-A', 'a\0']]), { instanceOf: InvalidArgumentError });
  t.throws(() => buildErrorResponse(400, 'x', [['X A', 'a']]), { instanceOf: InvalidArgumentError });
  t.throws(() => buildErrorResponse(400, 42 as unknown as string), { instanceOf: InvalidArgumentError });
});
