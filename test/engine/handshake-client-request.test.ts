import test from 'ava';
import { isValidHandshakeKey } from '../../src/shared/engine/accept-key.ts';
import { buildClientRequest, type ClientRequestOptions } from '../../src/shared/engine/client-handshake.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { ServerHandshakeParser } from '../../src/shared/engine/handshake-request.ts';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

test('the RFC 6455 example request, in Qt\'s field order', (t) => {
  const { bytes, key } = buildClientRequest({
    host: 'server.example.com',
    resourceName: '/chat',
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    origin: 'http://example.com',
    subprotocols: ['chat', 'superchat'],
  });
  t.is(key, 'dGhlIHNhbXBsZSBub25jZQ==');
  t.is(
    text(bytes),
    'GET /chat HTTP/1.1\r\n' +
      'Host: server.example.com\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Origin: http://example.com\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: chat, superchat\r\n' +
      '\r\n',
  );
});

test('the default key is fresh base64 of 16 random bytes and is the one sent', (t) => {
  const a = buildClientRequest({ host: 'h', resourceName: '/' });
  const b = buildClientRequest({ host: 'h', resourceName: '/' });
  t.true(isValidHandshakeKey(a.key));
  t.is(Buffer.from(a.key, 'base64').length, 16);
  t.not(a.key, b.key);
  t.true(text(a.bytes).includes(`\r\nSec-WebSocket-Key: ${a.key}\r\n`));
});

test('our server parser accepts what we build, with extensions and extra headers', (t) => {
  const { bytes, key } = buildClientRequest({
    host: '[::1]:8080',
    resourceName: '/a/b?c=d',
    subprotocols: ['v1.proto'],
    extensions: [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }],
    headers: { 'X-Token': 'abc', Origin: 'https://app.example' },
  });
  const result = new ServerHandshakeParser().feed(bytes);
  if (result.kind !== 'request') return t.fail(JSON.stringify(result));
  t.is(result.request.key, key);
  t.is(result.request.host, '[::1]:8080');
  t.is(result.request.path, '/a/b');
  t.is(result.request.query, 'c=d');
  t.is(result.request.origin, 'https://app.example');
  t.deepEqual(result.request.subprotocols, ['v1.proto']);
  t.deepEqual(result.request.extensions, [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }]);
  t.is(result.request.headers['x-token'], 'abc');
});

test('headers given as pairs keep order and repeats; empty origin is left out', (t) => {
  const { bytes } = buildClientRequest({
    host: 'h',
    resourceName: '/',
    origin: '',
    headers: [['Cookie', 'a=1'], ['X-B', '2'], ['Cookie', 'b=2']],
  });
  const lines = text(bytes).split('\r\n');
  t.deepEqual(lines.slice(-5), ['Cookie: a=1', 'X-B: 2', 'Cookie: b=2', '', '']);
  t.false(text(bytes).includes('Origin'));
  t.false(text(bytes).includes('Sec-WebSocket-Protocol'));
  t.false(text(bytes).includes('Sec-WebSocket-Extensions'));
});

const base: ClientRequestOptions = { host: 'example.com', resourceName: '/chat' };
const refused: [string, Partial<ClientRequestOptions>][] = [
  ['CRLF in host', { host: 'example.com\r\nX-Injected: 1' }],
  ['NUL in host', { host: 'example.com\0' }],
  ['empty host', { host: '' }],
  ['userinfo in host', { host: 'user@example.com' }],
  ['CRLF in resource name', { resourceName: '/chat HTTP/1.1\r\nX-Injected: 1\r\n' }],
  ['LF in resource name', { resourceName: '/chat\n' }],
  ['space in resource name', { resourceName: '/a b' }],
  ['NUL in resource name', { resourceName: '/a\0' }],
  ['fragment in resource name', { resourceName: '/a#b' }],
  ['relative resource name', { resourceName: 'chat' }],
  ['empty resource name', { resourceName: '' }],
  ['non-ASCII resource name', { resourceName: '/chät' }],
  ['CRLF in origin', { origin: 'http://a\r\nX-Injected: 1' }],
  ['LF in origin', { origin: 'http://a\n' }],
  ['NUL in origin', { origin: 'http://a\0' }],
  ['CRLF in a subprotocol', { subprotocols: ['chat\r\nX-Injected: 1'] }],
  ['empty subprotocol', { subprotocols: [''] }],
  ['space in a subprotocol', { subprotocols: ['a b'] }],
  ['comma in a subprotocol', { subprotocols: ['a,b'] }],
  ['separator ( in a subprotocol', { subprotocols: ['(a)'] }],
  ['separator / in a subprotocol', { subprotocols: ['a/b'] }],
  ['separator = in a subprotocol', { subprotocols: ['a=b'] }],
  ['DEL in a subprotocol', { subprotocols: ['a\x7f'] }],
  ['non-ASCII subprotocol', { subprotocols: ['ü'] }],
  ['subprotocol offered twice', { subprotocols: ['a', 'a'] }],
  ['bad key', { key: 'short' }],
  ['key with CRLF', { key: 'dGhlIHNhbXBsZSBub25jZQ==\r\nX: 1' }],
  ['CRLF in a header value', { headers: { 'X-A': 'a\r\nX-Injected: 1' } }],
  ['LF in a header value', { headers: [['X-A', 'a\n']] }],
  ['NUL in a header value', { headers: [['X-A', 'a\0']] }],
  ['CRLF in a header name', { headers: [['X-A\r\nX-Injected', 'a']] }],
  ['space in a header name', { headers: [['X A', 'a']] }],
  ['empty header name', { headers: [['', 'a']] }],
  ['extension name with CRLF', { extensions: [{ name: 'x\r\nX-Injected: 1', params: {} }] }],
  ['Upgrade override', { headers: { Upgrade: 'h2c' } }],
  ['Connection override', { headers: { connection: 'close' } }],
  ['Sec-WebSocket-Key override', { headers: { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAA==' } }],
  ['Sec-WebSocket-Version override', { headers: [['SEC-WEBSOCKET-VERSION', '8']] }],
  ['Sec-WebSocket-Accept override', { headers: { 'Sec-WebSocket-Accept': 'x' } }],
  ['Host override', { headers: { Host: 'other' } }],
  ['Sec-WebSocket-Protocol in headers', { headers: { 'Sec-WebSocket-Protocol': 'chat' } }],
  ['Sec-WebSocket-Extensions in headers', { headers: { 'Sec-WebSocket-Extensions': 'x' } }],
  ['Content-Length in headers', { headers: { 'Content-Length': '0' } }],
  ['Origin both as option and header', { origin: 'http://a', headers: { Origin: 'http://b' } }],
];

for (const [title, change] of refused) {
  test(`refused with InvalidArgumentError: ${title}`, (t) => {
    t.throws(() => buildClientRequest({ ...base, ...change }), { instanceOf: InvalidArgumentError });
  });
}
