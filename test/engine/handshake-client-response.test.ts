import test from 'ava';
import fc from 'fast-check';
import { acceptKey } from '../../src/shared/engine/accept-key.ts';
import { ClientHandshakeParser, type ClientHandshakeParserOptions, type ClientHandshakeResult } from '../../src/shared/engine/client-handshake.ts';
import { InvalidArgumentError, SocketError, WebSocketError } from '../../src/shared/engine/errors.ts';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const key = 'dGhlIHNhbXBsZSBub25jZQ==';
const options: ClientHandshakeParserOptions = { key, subprotocols: ['chat', 'superchat'], extensions: ['permessage-deflate'] };

/** The server handshake of RFC 6455 section 1.3 / 4.2.2. */
const rfcResponseLines = [
  'HTTP/1.1 101 Switching Protocols',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  'Sec-WebSocket-Protocol: chat',
];
const rfcResponse = `${rfcResponseLines.join('\r\n')}\r\n\r\n`;

/** The RFC response with fields replaced, removed (null) or added, and optionally another status line. */
function response(changes: Record<string, string | null> = {}, statusLine = rfcResponseLines[0]!, extra: string[] = []): string {
  const lines = [statusLine];
  const done = new Set<string>();
  for (const line of rfcResponseLines.slice(1)) {
    const name = line.slice(0, line.indexOf(':'));
    if (name in changes) {
      done.add(name);
      if (changes[name] !== null) lines.push(`${name}: ${changes[name]}`);
    } else {
      lines.push(line);
    }
  }
  for (const [name, value] of Object.entries(changes)) if (!done.has(name) && value !== null) lines.push(`${name}: ${value}`);
  return `${[...lines, ...extra].join('\r\n')}\r\n\r\n`;
}

function parse(text: string, opts: ClientHandshakeParserOptions = options): ClientHandshakeResult {
  return new ClientHandshakeParser(opts).feed(bytes(text));
}

test('accepts the RFC 6455 example response', (t) => {
  const result = parse(rfcResponse);
  if (result.kind !== 'accepted') return t.fail(JSON.stringify(result));
  t.is(result.subprotocol, 'chat');
  t.deepEqual(result.extensions, []);
  t.is(result.response.status, 101);
  t.is(result.response.statusText, 'Switching Protocols');
  t.is(result.response.httpVersion, '1.1');
  t.is(result.response.headers['sec-websocket-accept'], acceptKey(key));
  t.deepEqual(result.response.rawHeaders[0], ['Upgrade', 'websocket']);
  t.is(result.rest.length, 0);
});

test('frames that arrive with the 101 come back untouched as rest', (t) => {
  const frame = new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x0d, 0x0a, 0x0d, 0x0a]);
  const result = new ClientHandshakeParser(options).feed(Buffer.concat([bytes(rfcResponse), frame]));
  if (result.kind !== 'accepted') return t.fail(JSON.stringify(result));
  t.deepEqual([...result.rest], [...frame]);
});

test('accepted variants: token-list Connection, case, no subprotocol, later HTTP, offered extension', (t) => {
  const accepted: [string, string][] = [
    ['Connection: keep-alive, Upgrade', response({ Connection: 'keep-alive, Upgrade' })],
    ['Upgrade: WebSocket', response({ Upgrade: 'WebSocket' })],
    ['connection: UPGRADE', response({ Connection: 'UPGRADE' })],
    ['no subprotocol though some were offered', response({ 'Sec-WebSocket-Protocol': null })],
    ['HTTP/1.2', response({}, 'HTTP/1.2 101 Switching Protocols')],
    ['status line without reason phrase', response({}, 'HTTP/1.1 101')],
    ['status line with an empty reason phrase', response({}, 'HTTP/1.1 101 ')],
  ];
  for (const [title, text] of accepted) t.is(parse(text).kind, 'accepted', title);

  const noProtocol = parse(response({ 'Sec-WebSocket-Protocol': null }));
  t.is(noProtocol.kind === 'accepted' ? noProtocol.subprotocol : undefined, '');

  const withExtension = parse(response({ 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits="10"; client_no_context_takeover' }));
  if (withExtension.kind !== 'accepted') return t.fail(JSON.stringify(withExtension));
  t.deepEqual(withExtension.extensions, [{ name: 'permessage-deflate', params: { server_max_window_bits: '10', client_no_context_takeover: true } }]);
});

interface FailCase {
  title: string;
  text: string;
  message: string | RegExp;
  /** Whether the parsed response must come with the error. */
  withResponse: boolean;
  opts?: ClientHandshakeParserOptions;
}

const failCases: FailCase[] = [
  { title: '403', text: response({}, 'HTTP/1.1 403 Forbidden'), message: 'Unexpected HTTP status 403 Forbidden', withResponse: true },
  { title: '404 with another phrase', text: response({}, 'HTTP/1.1 404 Nothing Here'), message: 'Unexpected HTTP status 404 Nothing Here', withResponse: true },
  { title: '200', text: response({}, 'HTTP/1.1 200 OK'), message: 'Unexpected HTTP status 200 OK', withResponse: true },
  { title: '100 Continue', text: response({}, 'HTTP/1.1 100 Continue'), message: 'Unexpected HTTP status 100 Continue', withResponse: true },
  { title: '426 without phrase', text: response({}, 'HTTP/1.1 426'), message: 'Unexpected HTTP status 426', withResponse: true },
  { title: '302 with Location', text: response({ Location: 'wss://other.example/chat' }, 'HTTP/1.1 302 Found'), message: 'Unexpected HTTP status 302 Found (redirect to wss://other.example/chat)', withResponse: true },
  { title: '301 without Location', text: response({}, 'HTTP/1.1 301 Moved Permanently'), message: 'Unexpected HTTP status 301 Moved Permanently (redirect without a Location header)', withResponse: true },
  { title: 'HTTP/1.0 101', text: response({}, 'HTTP/1.0 101 Switching Protocols'), message: 'Unsupported HTTP version HTTP/1.0', withResponse: true },
  { title: 'missing Upgrade', text: response({ Upgrade: null }), message: 'Invalid Upgrade header in the handshake response: expected websocket, got none', withResponse: true },
  { title: 'Upgrade: h2c', text: response({ Upgrade: 'h2c' }), message: 'expected websocket, got "h2c"', withResponse: true },
  { title: 'Upgrade: websocket, h2c (one value expected, RFC 6455 4.1)', text: response({ Upgrade: 'websocket, h2c' }), message: 'Invalid Upgrade header', withResponse: true },
  { title: 'missing Connection', text: response({ Connection: null }), message: 'Invalid Connection header in the handshake response: expected upgrade, got none', withResponse: true },
  { title: 'Connection: keep-alive', text: response({ Connection: 'keep-alive' }), message: 'expected upgrade, got "keep-alive"', withResponse: true },
  { title: 'missing Sec-WebSocket-Accept', text: response({ 'Sec-WebSocket-Accept': null }), message: 'Missing Sec-WebSocket-Accept', withResponse: true },
  { title: 'wrong Sec-WebSocket-Accept', text: response({ 'Sec-WebSocket-Accept': acceptKey('AAAAAAAAAAAAAAAAAAAAAA==') }), message: `Sec-WebSocket-Accept mismatch: expected ${acceptKey(key)}, got "${acceptKey('AAAAAAAAAAAAAAAAAAAAAA==')}"`, withResponse: true },
  { title: 'empty Sec-WebSocket-Accept', text: response({ 'Sec-WebSocket-Accept': '' }), message: 'Sec-WebSocket-Accept mismatch', withResponse: true },
  { title: 'Sec-WebSocket-Accept of the key itself', text: response({ 'Sec-WebSocket-Accept': key }), message: 'Sec-WebSocket-Accept mismatch', withResponse: true },
  { title: 'two Sec-WebSocket-Accept headers', text: response({}, undefined, [`Sec-WebSocket-Accept: ${acceptKey(key)}`]), message: 'Repeated Sec-WebSocket-Accept', withResponse: true },
  { title: 'subprotocol not offered', text: response({ 'Sec-WebSocket-Protocol': 'other' }), message: 'Server chose subprotocol "other", which was not offered', withResponse: true },
  { title: 'subprotocol differing in case', text: response({ 'Sec-WebSocket-Protocol': 'Chat' }), message: 'which was not offered', withResponse: true },
  { title: 'subprotocol when none was offered', text: response(), message: 'which was not offered', withResponse: true, opts: { key } },
  { title: 'two subprotocols in one header', text: response({ 'Sec-WebSocket-Protocol': 'chat, superchat' }), message: 'Server chose more than one subprotocol: chat, superchat', withResponse: true },
  { title: 'two subprotocol headers', text: response({}, undefined, ['Sec-WebSocket-Protocol: superchat']), message: 'more than one subprotocol', withResponse: true },
  { title: 'empty subprotocol header', text: response({ 'Sec-WebSocket-Protocol': '' }), message: 'Empty Sec-WebSocket-Protocol', withResponse: true },
  { title: 'extension not offered', text: response({ 'Sec-WebSocket-Extensions': 'x-webkit-deflate-frame' }), message: 'Server accepted extension x-webkit-deflate-frame, which was not offered', withResponse: true },
  { title: 'second extension not offered', text: response({ 'Sec-WebSocket-Extensions': 'permessage-deflate, x-other' }), message: 'extension x-other, which was not offered', withResponse: true },
  { title: 'extension when none was offered', text: response({ 'Sec-WebSocket-Extensions': 'permessage-deflate', 'Sec-WebSocket-Protocol': null }), message: 'which was not offered', withResponse: true, opts: { key } },
  { title: 'bad extension syntax', text: response({ 'Sec-WebSocket-Extensions': 'permessage-deflate; a="b c"' }), message: /^Invalid Sec-WebSocket-Extensions: .* \(in the handshake response\)$/, withResponse: true },
  { title: 'malformed status line', text: response({}, 'HTTP/1.1 1O1 Switching Protocols'), message: /^Invalid HTTP response: malformed status line/, withResponse: false },
  { title: 'not HTTP', text: response({}, 'ICY 200 OK'), message: /^Invalid HTTP response: malformed status line/, withResponse: false },
  { title: 'two spaces after the version', text: response({}, 'HTTP/1.1  101 Switching Protocols'), message: /malformed status line/, withResponse: false },
  { title: 'header without a colon', text: response({}, undefined, ['garbage']), message: 'Invalid HTTP response: Header line without a colon', withResponse: false },
  { title: 'obs-fold', text: response({}, undefined, ['X-A: 1', ' 2']), message: /^Invalid HTTP response: .*obs-fold/, withResponse: false },
  { title: 'bare LF', text: rfcResponse.replace('\r\nUpgrade', '\nUpgrade'), message: 'Invalid HTTP response: Line not terminated by CRLF', withResponse: false },
  { title: 'header block too large', text: response({}, undefined, [`X-Big: ${'a'.repeat(17_000)}`]), message: 'HTTP response header block exceeds 16384 bytes', withResponse: false },
];

for (const c of failCases) {
  test(`fails: ${c.title}`, (t) => {
    const result = parse(c.text, c.opts);
    if (result.kind !== 'failed') return t.fail(JSON.stringify(result));
    t.true(result.error instanceof WebSocketError);
    t.is(result.error.kind, SocketError.HandshakeFailed);
    if (typeof c.message === 'string') t.true(result.error.message.includes(c.message), result.error.message);
    else t.regex(result.error.message, c.message);
    t.is(result.response !== undefined, c.withResponse);
  });
}

test('headers are available on failure (e.g. a 401 challenge or a 429 Retry-After)', (t) => {
  const result = parse(response({ 'WWW-Authenticate': 'Basic realm="x"', 'Retry-After': '5' }, 'HTTP/1.1 401 Unauthorized'));
  if (result.kind !== 'failed') return t.fail(JSON.stringify(result));
  t.is(result.response?.status, 401);
  t.is(result.response?.statusText, 'Unauthorized');
  t.is(result.response?.headers['www-authenticate'], 'Basic realm="x"');
  t.is(result.response?.headers['retry-after'], '5');
  t.deepEqual(result.response?.rawHeaders.at(-1), ['Retry-After', '5']);
});

test('every split point gives the same result and rest', (t) => {
  const tail = bytes('\x81\x02hi\x89\x00');
  const data = Buffer.concat([bytes(response({ 'Sec-WebSocket-Extensions': 'permessage-deflate; a="1"' })), tail]);
  const expected = new ClientHandshakeParser(options).feed(data);
  if (expected.kind !== 'accepted') return t.fail(JSON.stringify(expected));
  for (let cut = 0; cut <= data.length; cut++) {
    const parser = new ClientHandshakeParser(options);
    let result = parser.feed(data.subarray(0, cut));
    let after: Uint8Array;
    if (result.kind === 'incomplete') {
      result = parser.feed(data.subarray(cut));
      after = result.kind === 'accepted' ? result.rest : new Uint8Array(0);
    } else {
      after = Buffer.concat([result.kind === 'accepted' ? result.rest : new Uint8Array(0), data.subarray(cut)]);
    }
    if (result.kind !== 'accepted') return t.fail(`cut at ${cut}: ${JSON.stringify(result)}`);
    t.deepEqual(result.response, expected.response, `cut at ${cut}`);
    t.deepEqual(result.extensions, expected.extensions);
    t.deepEqual([...after], [...tail], `cut at ${cut}`);
  }
});

test('random chunkings give the same result and rest (property)', (t) => {
  const head = bytes(rfcResponse);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 50 }), fc.array(fc.nat({ max: head.length + 50 }), { maxLength: 30 }), (tail, rawCuts) => {
      const data = Buffer.concat([head, tail]);
      const cuts = [...new Set(rawCuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
      const parser = new ClientHandshakeParser(options);
      let start = 0;
      for (const end of [...cuts, data.length]) {
        const result = parser.feed(data.subarray(start, end));
        start = end;
        if (result.kind === 'incomplete') continue;
        if (result.kind !== 'accepted') return false;
        return result.subprotocol === 'chat' && Buffer.concat([result.rest, data.subarray(end)]).equals(Buffer.from(tail));
      }
      return false;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('random bytes never throw out of feed (property)', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(''), fc.constant('HTTP/1.1 101 Switching Protocols\r\n')),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
      (prefix, chunks) => {
        const parser = new ClientHandshakeParser({ ...options, maxHeaderSize: 1024 });
        for (const chunk of [bytes(prefix), ...chunks]) {
          const result = parser.feed(chunk);
          if (result.kind === 'failed') return result.error.kind === SocketError.HandshakeFailed;
          if (result.kind !== 'incomplete') return false;
        }
        return true;
      },
    ),
    { numRuns: 1000 },
  );
  t.pass();
});

test('usage errors: bad key, bad limit, feed after a verdict', (t) => {
  t.throws(() => new ClientHandshakeParser({ key: 'short' }), { instanceOf: InvalidArgumentError });
  t.throws(() => new ClientHandshakeParser({ key, maxHeaderSize: 0 }), { instanceOf: InvalidArgumentError });
  const parser = new ClientHandshakeParser(options);
  parser.feed(bytes(rfcResponse));
  t.throws(() => parser.feed(bytes('x')), { instanceOf: InvalidArgumentError });
});
