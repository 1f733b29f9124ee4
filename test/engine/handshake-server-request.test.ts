import test from 'ava';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { ServerHandshakeParser, type ServerHandshakeResult } from '../../src/shared/engine/handshake-request.ts';
import { splitAt } from '../helpers/chunks.ts';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** The client handshake of RFC 6455 section 1.2 / 4.1. */
const rfcRequestLines = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
];
const rfcRequest = `${rfcRequestLines.join('\r\n')}\r\n\r\n`;

/** A good request with some lines replaced, removed (value null) or added. */
function request(changes: Record<string, string | null> = {}, requestLine = 'GET /chat HTTP/1.1', extra: string[] = []): string {
  const lines = [requestLine];
  const done = new Set<string>();
  for (const line of rfcRequestLines.slice(1)) {
    const name = line.slice(0, line.indexOf(':'));
    if (name in changes) {
      done.add(name);
      const value = changes[name];
      if (value !== null) lines.push(`${name}: ${value}`);
    } else {
      lines.push(line);
    }
  }
  for (const [name, value] of Object.entries(changes)) if (!done.has(name) && value !== null) lines.push(`${name}: ${value}`);
  return `${[...lines, ...extra].join('\r\n')}\r\n\r\n`;
}

function parseWhole(text: string | Uint8Array, maxHeaderSize?: number): ServerHandshakeResult {
  return new ServerHandshakeParser(maxHeaderSize === undefined ? {} : { maxHeaderSize }).feed(typeof text === 'string' ? bytes(text) : text);
}

/**
 * Feeds the chunks in order until a verdict. Returns it, with `rest` extended by the chunks the
 * parser never saw (they follow the header block on the wire).
 */
function parseChunks(chunks: Uint8Array[], maxHeaderSize?: number): { result: ServerHandshakeResult; after: Uint8Array } {
  const parser = new ServerHandshakeParser(maxHeaderSize === undefined ? {} : { maxHeaderSize });
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.feed(chunks[i]!);
    if (result.kind !== 'incomplete') {
      const restBytes = result.kind === 'request' ? result.rest : new Uint8Array(0);
      return { result, after: Buffer.concat([restBytes, ...chunks.slice(i + 1)]) };
    }
  }
  return { result: { kind: 'incomplete' }, after: new Uint8Array(0) };
}

/** Results without `rest`, for comparing verdicts. */
function verdict(result: ServerHandshakeResult): unknown {
  if (result.kind === 'request') return { kind: result.kind, request: result.request };
  return result;
}

test('parses the RFC 6455 example request', (t) => {
  const result = parseWhole(rfcRequest);
  if (result.kind !== 'request') return t.fail(JSON.stringify(result));
  const r = result.request;
  t.is(r.method, 'GET');
  t.is(r.resourceName, '/chat');
  t.is(r.path, '/chat');
  t.is(r.query, '');
  t.is(r.httpVersion, '1.1');
  t.is(r.host, 'server.example.com');
  t.is(r.key, 'dGhlIHNhbXBsZSBub25jZQ==');
  t.is(r.version, 13);
  t.is(r.origin, 'http://example.com');
  t.deepEqual(r.subprotocols, ['chat', 'superchat']);
  t.deepEqual(r.extensions, []);
  t.deepEqual(r.rawHeaders, rfcRequestLines.slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
  t.is(r.headers['sec-websocket-protocol'], 'chat, superchat');
  t.is(r.headers['host'], 'server.example.com');
  t.is(result.rest.length, 0);
});

test('the bytes after the header block come back untouched as rest', (t) => {
  const frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]; // RFC 6455 5.7 masked "Hello"
  const tail = new Uint8Array([...frame, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0xff]);
  const result = parseWhole(Buffer.concat([bytes(rfcRequest), tail]));
  if (result.kind !== 'request') return t.fail(JSON.stringify(result));
  t.deepEqual([...result.rest], [...tail]);
});

test('query, absolute-form target, and the target kept as sent', (t) => {
  const withQuery = parseWhole(request({}, 'GET /chat/room?id=1&x=%20?y HTTP/1.1'));
  if (withQuery.kind !== 'request') return t.fail(JSON.stringify(withQuery));
  t.is(withQuery.request.resourceName, '/chat/room?id=1&x=%20?y');
  t.is(withQuery.request.path, '/chat/room');
  t.is(withQuery.request.query, 'id=1&x=%20?y');

  const absolute = parseWhole(request({}, 'GET ws://server.example.com:8080/chat?x=1 HTTP/1.1'));
  if (absolute.kind !== 'request') return t.fail(JSON.stringify(absolute));
  t.is(absolute.request.resourceName, 'ws://server.example.com:8080/chat?x=1');
  t.is(absolute.request.path, '/chat');
  t.is(absolute.request.query, 'x=1');

  const bare = parseWhole(request({}, 'GET http://server.example.com HTTP/1.1'));
  t.is(bare.kind === 'request' ? bare.request.path : '', '/');
});

test('token lists: Connection: keep-alive, Upgrade and mixed case are accepted', (t) => {
  for (const [connection, upgrade] of [
    ['keep-alive, Upgrade', 'websocket'],
    ['UPGRADE', 'WebSocket'],
    ['Upgrade,keep-alive', 'h2c, websocket'],
    [' upgrade ', 'WEBSOCKET'],
  ] as const) {
    const result = parseWhole(request({ Connection: connection, Upgrade: upgrade }));
    t.is(result.kind, 'request', `${connection} / ${upgrade}: ${JSON.stringify(result)}`);
  }
});

test('repeated headers are joined, subprotocols gathered from every header in order', (t) => {
  const result = parseWhole(request({ 'Sec-WebSocket-Protocol': 'a, b' }, undefined, ['X-Thing: 1', 'sec-websocket-protocol: c,,d', 'x-thing: 2']));
  if (result.kind !== 'request') return t.fail(JSON.stringify(result));
  t.deepEqual(result.request.subprotocols, ['a', 'b', 'c', 'd']);
  t.is(result.request.headers['x-thing'], '1, 2');
  t.deepEqual(result.request.rawHeaders.slice(-3), [['X-Thing', '1'], ['sec-websocket-protocol', 'c,,d'], ['x-thing', '2']]);
});

test('no Origin gives undefined; extensions are parsed from all headers', (t) => {
  const result = parseWhole(
    request({ Origin: null, 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }, undefined, [
      'Sec-WebSocket-Extensions: x-foo; a="1"',
    ]),
  );
  if (result.kind !== 'request') return t.fail(JSON.stringify(result));
  t.is(result.request.origin, undefined);
  t.deepEqual(result.request.extensions, [
    { name: 'permessage-deflate', params: { client_max_window_bits: true } },
    { name: 'x-foo', params: { a: '1' } },
  ]);
});

test('later HTTP versions, leading empty lines and Content-Length: 0 are accepted', (t) => {
  const v12 = parseWhole(request({}, 'GET /chat HTTP/1.2'));
  t.is(v12.kind === 'request' ? v12.request.httpVersion : v12.kind, '1.2');
  const v20 = parseWhole(request({}, 'GET /chat HTTP/2.0'));
  t.is(v20.kind === 'request' ? v20.request.httpVersion : v20.kind, '2.0');
  t.is(parseWhole(`\r\n\r\n${rfcRequest}`).kind, 'request');
  t.is(parseWhole(request({ 'Content-Length': '0' })).kind, 'request');
});

interface RejectCase {
  title: string;
  text: string;
  status: number;
  reason: string;
  headers?: [string, string][];
}

const rejectCases: RejectCase[] = [
  { title: 'POST', text: request({}, 'POST /chat HTTP/1.1'), status: 405, reason: 'Method POST not allowed', headers: [['Allow', 'GET']] },
  { title: 'lowercase get', text: request({}, 'get /chat HTTP/1.1'), status: 405, reason: 'Method get', headers: [['Allow', 'GET']] },
  { title: 'HTTP/1.0', text: request({}, 'GET /chat HTTP/1.0'), status: 400, reason: 'HTTP/1.1 or later' },
  { title: 'HTTP/0.9', text: request({}, 'GET /chat HTTP/0.9'), status: 400, reason: 'HTTP/1.1 or later' },
  { title: 'two spaces in the request line', text: request({}, 'GET  /chat HTTP/1.1'), status: 400, reason: 'Malformed request line' },
  { title: 'trailing space in the request line', text: request({}, 'GET /chat HTTP/1.1 '), status: 400, reason: 'Malformed request line' },
  { title: 'tab as separator', text: request({}, 'GET\t/chat HTTP/1.1'), status: 400, reason: 'Malformed request line' },
  { title: 'no HTTP version', text: request({}, 'GET /chat'), status: 400, reason: 'Malformed request line' },
  { title: 'lowercase http version', text: request({}, 'GET /chat http/1.1'), status: 400, reason: 'invalid HTTP version' },
  { title: 'HTTP/1.10', text: request({}, 'GET /chat HTTP/1.10'), status: 400, reason: 'invalid HTTP version' },
  { title: 'HTTP/11', text: request({}, 'GET /chat HTTP/11'), status: 400, reason: 'invalid HTTP version' },
  { title: 'method with a separator', text: request({}, 'G(T /chat HTTP/1.1'), status: 400, reason: 'invalid method' },
  { title: 'asterisk-form target', text: request({}, 'GET * HTTP/1.1'), status: 400, reason: 'Malformed request target' },
  { title: 'authority-form target', text: request({}, 'GET server.example.com:80 HTTP/1.1'), status: 400, reason: 'Malformed request target' },
  { title: 'fragment in the target', text: request({}, 'GET /chat#x HTTP/1.1'), status: 400, reason: 'Malformed request target' },
  { title: 'non-ASCII target', text: request({}, 'GET /ch\xe4t HTTP/1.1'), status: 400, reason: 'Malformed request target' },
  { title: 'missing Host', text: request({ Host: null }), status: 400, reason: 'Missing Host header' },
  { title: 'empty Host', text: request({ Host: '' }), status: 400, reason: 'Missing Host header' },
  { title: 'two Host headers', text: request({}, undefined, ['Host: other.example.com']), status: 400, reason: 'Repeated Host header' },
  { title: 'Host with userinfo', text: request({ Host: 'user:pw@server.example.com' }), status: 400, reason: 'Invalid Host header' },
  { title: 'Host with a space', text: request({ Host: 'server example.com' }), status: 400, reason: 'Invalid Host header' },
  { title: 'missing Upgrade', text: request({ Upgrade: null }), status: 400, reason: 'Upgrade header' },
  { title: 'Upgrade: websocketx', text: request({ Upgrade: 'websocketx' }), status: 400, reason: 'Upgrade header' },
  { title: 'Upgrade: h2c', text: request({ Upgrade: 'h2c' }), status: 400, reason: 'Upgrade header' },
  { title: 'missing Connection', text: request({ Connection: null }), status: 400, reason: 'Connection header' },
  { title: 'Connection: keep-alive', text: request({ Connection: 'keep-alive' }), status: 400, reason: 'Connection header' },
  { title: 'Connection: upgrade-insecure', text: request({ Connection: 'upgrade-insecure' }), status: 400, reason: 'Connection header' },
  { title: 'missing Sec-WebSocket-Version', text: request({ 'Sec-WebSocket-Version': null }), status: 426, reason: 'Missing Sec-WebSocket-Version', headers: [['Sec-WebSocket-Version', '13']] },
  { title: 'Sec-WebSocket-Version: 8', text: request({ 'Sec-WebSocket-Version': '8' }), status: 426, reason: 'Unsupported WebSocket version 8', headers: [['Sec-WebSocket-Version', '13']] },
  { title: 'Sec-WebSocket-Version: 14', text: request({ 'Sec-WebSocket-Version': '14' }), status: 426, reason: 'version 14', headers: [['Sec-WebSocket-Version', '13']] },
  { title: 'Sec-WebSocket-Version: 13, 8', text: request({ 'Sec-WebSocket-Version': '13, 8' }), status: 426, reason: 'version 13, 8', headers: [['Sec-WebSocket-Version', '13']] },
  { title: 'Sec-WebSocket-Version: 013', text: request({ 'Sec-WebSocket-Version': '013' }), status: 426, reason: 'version 013', headers: [['Sec-WebSocket-Version', '13']] },
  { title: 'two Sec-WebSocket-Version headers', text: request({}, undefined, ['Sec-WebSocket-Version: 13']), status: 400, reason: 'Repeated Sec-WebSocket-Version' },
  { title: 'missing Sec-WebSocket-Key', text: request({ 'Sec-WebSocket-Key': null }), status: 400, reason: 'Missing Sec-WebSocket-Key' },
  { title: 'empty Sec-WebSocket-Key', text: request({ 'Sec-WebSocket-Key': '' }), status: 400, reason: 'Invalid Sec-WebSocket-Key' },
  { title: 'short Sec-WebSocket-Key (Qt accepts it)', text: request({ 'Sec-WebSocket-Key': 'short' }), status: 400, reason: 'Invalid Sec-WebSocket-Key' },
  { title: 'key without padding', text: request({ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQAA' }), status: 400, reason: 'Invalid Sec-WebSocket-Key' },
  { title: 'key of 17 bytes', text: request({ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZTE=' }), status: 400, reason: 'Invalid Sec-WebSocket-Key' },
  { title: 'key of 15 bytes', text: request({ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25j' }), status: 400, reason: 'Invalid Sec-WebSocket-Key' },
  { title: 'key with a non-base64 character', text: request({ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25j*Q==' }), status: 400, reason: 'Invalid Sec-WebSocket-Key' },
  { title: 'two Sec-WebSocket-Key headers', text: request({}, undefined, ['Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==']), status: 400, reason: 'Repeated Sec-WebSocket-Key' },
  { title: 'two Origin headers', text: request({}, undefined, ['Origin: http://evil.example']), status: 400, reason: 'Repeated Origin' },
  { title: 'subprotocol that is not a token', text: request({ 'Sec-WebSocket-Protocol': 'chat, super chat' }), status: 400, reason: 'Invalid subprotocol name' },
  { title: 'subprotocol with a separator', text: request({ 'Sec-WebSocket-Protocol': 'chat/1' }), status: 400, reason: 'Invalid subprotocol name' },
  { title: 'subprotocol offered twice', text: request({ 'Sec-WebSocket-Protocol': 'chat, chat' }), status: 400, reason: 'offered twice' },
  { title: 'bad extension syntax', text: request({ 'Sec-WebSocket-Extensions': 'permessage-deflate; x="a b"' }), status: 400, reason: 'Invalid Sec-WebSocket-Extensions' },
  { title: 'Transfer-Encoding', text: request({ 'Transfer-Encoding': 'chunked' }), status: 400, reason: 'must not have a body' },
  { title: 'Content-Length: 5', text: request({ 'Content-Length': '5' }), status: 400, reason: 'must not have a body' },
  { title: 'header line without a colon', text: request({}, undefined, ['NoColonHere']), status: 400, reason: 'without a colon' },
  { title: 'space inside a header name', text: request({}, undefined, ['Bad Name: x']), status: 400, reason: 'Invalid header name' },
  { title: 'space before the colon', text: request({}, undefined, ['X-Thing : x']), status: 400, reason: 'Invalid header name' },
  { title: 'empty header name', text: request({}, undefined, [': x']), status: 400, reason: 'Invalid header name' },
  { title: 'obs-fold continuation line', text: request({}, undefined, ['X-Thing: a', ' continued']), status: 400, reason: 'obs-fold' },
  { title: 'tab-folded continuation line', text: request({}, undefined, ['X-Thing: a', '\tcontinued']), status: 400, reason: 'obs-fold' },
  { title: 'NUL in a header value', text: request({}, undefined, ['X-Thing: a\0b']), status: 400, reason: 'Invalid character' },
  { title: 'control character in a header value', text: request({}, undefined, ['X-Thing: a\x1bb']), status: 400, reason: 'Invalid character' },
  { title: 'bare LF ends a line', text: request().replace('Upgrade: websocket\r\n', 'Upgrade: websocket\n'), status: 400, reason: 'CRLF' },
  { title: 'bare LF block end', text: `${rfcRequest.slice(0, -4)}\n\n`, status: 400, reason: 'CRLF' },
  { title: 'bare CR inside a value', text: request({}, undefined, ['X-Thing: a\rb']), status: 400, reason: 'CRLF' },
];

for (const c of rejectCases) {
  test(`reject ${c.status}: ${c.title}`, (t) => {
    const result = parseWhole(c.text);
    if (result.kind !== 'reject') return t.fail(JSON.stringify(verdict(result)));
    t.is(result.status, c.status);
    t.true(result.reason.includes(c.reason), result.reason);
    t.deepEqual(result.headers, c.headers ?? []);
  });
}

test('a bad request line is rejected as soon as it is complete, before any header', (t) => {
  const parser = new ServerHandshakeParser();
  t.is(parser.feed(bytes('POST /chat HTTP/1.1')).kind, 'incomplete');
  const result = parser.feed(bytes('\r\n'));
  t.is(result.kind === 'reject' ? result.status : 0, 405);
});

test('header block over the limit gives 431; exactly at the limit is accepted', (t) => {
  const size = bytes(rfcRequest).length;
  t.is(parseWhole(rfcRequest, size).kind, 'request');
  const over = parseWhole(rfcRequest, size - 1);
  t.is(over.kind === 'reject' ? over.status : 0, 431);

  const padded = request({}, undefined, [`X-Padding: ${'a'.repeat(20_000)}`]);
  const result = parseWhole(padded);
  if (result.kind !== 'reject') return t.fail(JSON.stringify(result));
  t.is(result.status, 431);
  t.true(result.reason.includes('16384'), result.reason);
});

test('431 arrives once the limit is passed, even without any line end', (t) => {
  const parser = new ServerHandshakeParser({ maxHeaderSize: 64 });
  t.is(parser.feed(bytes('GET /'.padEnd(64, 'a'))).kind, 'incomplete');
  const result = parser.feed(bytes('a'));
  t.is(result.kind === 'reject' ? result.status : 0, 431);
});

test('many short header lines count toward the limit', (t) => {
  const lines = Array.from({ length: 5000 }, (_, i) => `X-${i}: ${i}`);
  const result = parseWhole(request({}, undefined, lines));
  t.is(result.kind === 'reject' ? result.status : 0, 431);
});

test('every split point of a good request gives the same request and rest', (t) => {
  const tail = bytes('\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58');
  const data = Buffer.concat([bytes(request({ 'Sec-WebSocket-Extensions': 'a; b="1", c' })), tail]);
  const expected = parseWhole(data);
  t.is(expected.kind, 'request');
  for (let cut = 0; cut <= data.length; cut++) {
    const { result, after } = parseChunks(splitAt(data, [cut]));
    t.deepEqual(verdict(result), verdict(expected), `cut at ${cut}`);
    t.deepEqual([...after], [...tail], `cut at ${cut}`);
  }
});

test('one byte at a time gives the same request and rest', (t) => {
  const tail = bytes('more bytes\r\n\r\n');
  const data = Buffer.concat([bytes(rfcRequest), tail]);
  const chunks = Array.from(data, (b) => new Uint8Array([b]));
  const { result, after } = parseChunks(chunks);
  t.deepEqual(verdict(result), verdict(parseWhole(data)));
  t.deepEqual([...after], [...tail]);
});

test('random chunkings give the same request and rest (property)', (t) => {
  const head = bytes(request({ 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }, 'GET /x?y=1 HTTP/1.1', ['X-A: 1', 'x-a: 2']));
  const expected = verdict(parseWhole(head));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat({ max: head.length + 64 }), { maxLength: 40 }), (tail, cuts) => {
      const data = Buffer.concat([head, tail]);
      const { result, after } = parseChunks(splitAt(data, cuts));
      t.deepEqual(verdict(result), expected);
      t.deepEqual([...after], [...tail]);
    }),
    { numRuns: 300 },
  );
});

test('the verdict on a corrupted request does not depend on chunking (property)', (t) => {
  const good = bytes(rfcRequest);
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat({ max: good.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat({ max: good.length }), { maxLength: 30 }),
      fc.integer({ min: 40, max: 400 }),
      (edits, cuts, limit) => {
        const data = Uint8Array.from(good);
        for (const { at, byte } of edits) data[at] = byte;
        const whole = new ServerHandshakeParser({ maxHeaderSize: limit }).feed(data);
        const { result } = parseChunks(splitAt(data, cuts), limit);
        t.deepEqual(verdict(result), verdict(whole));
      },
    ),
    { numRuns: 500 },
  );
});

test('random bytes never throw out of feed and are rejected or incomplete (property)', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(''), fc.constant('GET / HTTP/1.1\r\n'), fc.constant(rfcRequest.slice(0, 120))),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
      (prefix, chunks) => {
        const parser = new ServerHandshakeParser({ maxHeaderSize: 1024 });
        for (const chunk of [bytes(prefix), ...chunks]) {
          const result = parser.feed(chunk);
          if (result.kind === 'reject') {
            t.true([400, 405, 426, 431].includes(result.status));
            return;
          }
          t.is(result.kind, 'incomplete');
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('random header-like text never throws out of feed (property)', (t) => {
  const alphabet = 'GET /HTP1.\r\n: ,;="\tabcUpgradeConnectionwebsocketHost13\x00\xff'.split('');
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 300 }), fc.array(fc.nat({ max: 330 }), { maxLength: 8 }), (text, cuts) => {
      const data = bytes(`GET / HTTP/1.1\r\n${text}\r\n\r\n`);
      const result = new ServerHandshakeParser().feed(data);
      // The alphabet has no valid key, so nothing here is an upgrade: every request is refused
      // with a status the parser documents, whatever the chunking.
      t.not(result.kind, 'request');
      if (result.kind === 'reject') t.true([400, 405, 426, 431].includes(result.status), String(result.status));
      t.deepEqual(verdict(parseChunks(splitAt(data, cuts), 16 * 1024).result), verdict(result));
    }),
    { numRuns: 1000 },
  );
});

test('feed after a verdict, a non-Uint8Array chunk or a bad limit are usage errors', (t) => {
  const parser = new ServerHandshakeParser();
  parser.feed(bytes(rfcRequest));
  t.throws(() => parser.feed(bytes('x')), { instanceOf: InvalidArgumentError });
  const rejected = new ServerHandshakeParser();
  rejected.feed(bytes('POST / HTTP/1.1\r\n'));
  t.throws(() => rejected.feed(bytes('x')), { instanceOf: InvalidArgumentError });
  t.throws(() => new ServerHandshakeParser().feed('GET' as unknown as Uint8Array), { instanceOf: InvalidArgumentError });
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    t.throws(() => new ServerHandshakeParser({ maxHeaderSize: bad }), { instanceOf: InvalidArgumentError });
  }
});
