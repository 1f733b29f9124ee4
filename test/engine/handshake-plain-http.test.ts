/**
 * ServerHandshakeParser with `plainHttp: true`: requests that are not WebSocket upgrades come
 * back as `{ kind: 'http' }`, upgrade attempts are judged exactly as without the option.
 */
import test from 'ava';
import fc from 'fast-check';
import { ServerHandshakeParser, type ServerRequestResult } from '../../src/shared/engine/handshake-request.ts';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

function head(requestLine: string, fields: string[]): string {
  return `${[requestLine, ...fields].join('\r\n')}\r\n\r\n`;
}

const upgradeFields = [
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];

function plain(text: string | Uint8Array, maxHeaderSize?: number): ServerRequestResult<true> {
  return new ServerHandshakeParser({ plainHttp: true, ...(maxHeaderSize === undefined ? {} : { maxHeaderSize }) })
    .feed(typeof text === 'string' ? bytes(text) : text);
}

function strict(text: string | Uint8Array, maxHeaderSize?: number): ServerRequestResult<false> {
  return new ServerHandshakeParser(maxHeaderSize === undefined ? {} : { maxHeaderSize }).feed(typeof text === 'string' ? bytes(text) : text);
}

function statusOf(result: ServerRequestResult): number | string {
  return result.kind === 'reject' ? result.status : result.kind;
}

/** Results without `rest`, for comparing verdicts. */
function verdict(result: ServerRequestResult): unknown {
  if (result.kind === 'request' || result.kind === 'http') return { kind: result.kind, request: result.request };
  return result;
}

test('a plain GET comes back as http with its request line and headers; the next bytes are rest', (t) => {
  const text = head('GET /status/page?x=1&y=%20 HTTP/1.1', ['Host: 127.0.0.1:8080', 'Accept: text/html', 'X-A: 1', 'x-a: 2']);
  const result = plain(Buffer.concat([bytes(text), bytes('GET /next HTTP/1.1\r\n')]));
  if (result.kind !== 'http') return t.fail(JSON.stringify(verdict(result)));
  t.deepEqual(result.request, {
    method: 'GET',
    resourceName: '/status/page?x=1&y=%20',
    path: '/status/page',
    query: 'x=1&y=%20',
    httpVersion: '1.1',
    headers: { host: '127.0.0.1:8080', accept: 'text/html', 'x-a': '1, 2' },
    rawHeaders: [['Host', '127.0.0.1:8080'], ['Accept', 'text/html'], ['X-A', '1'], ['x-a', '2']],
    host: '127.0.0.1:8080',
  });
  t.is(Buffer.from(result.rest).toString('latin1'), 'GET /next HTTP/1.1\r\n');
  // Without the option the same request is refused as before.
  t.is(statusOf(strict(text)), 400);
});

for (const method of ['HEAD', 'POST', 'OPTIONS', 'DELETE', 'PROPFIND']) {
  test(`any method is a plain request: ${method}`, (t) => {
    const result = plain(head(`${method} /x HTTP/1.1`, ['Host: h']));
    if (result.kind !== 'http') return t.fail(JSON.stringify(verdict(result)));
    t.is(result.request.method, method);
    t.is(result.request.path, '/x');
  });
}

test('HTTP/1.0 may leave out Host; HTTP/1.1 may not; HTTP/2.0 in the request line is accepted', (t) => {
  const old = plain(head('GET / HTTP/1.0', []));
  if (old.kind !== 'http') return t.fail(JSON.stringify(verdict(old)));
  t.is(old.request.httpVersion, '1.0');
  t.is(old.request.host, '');
  const oldWithHost = plain(head('GET / HTTP/1.0', ['Host: a.example']));
  t.is(oldWithHost.kind === 'http' ? oldWithHost.request.host : '', 'a.example');
  const missing = plain(head('GET / HTTP/1.1', ['Accept: */*']));
  t.is(statusOf(missing), 400);
  t.true(missing.kind === 'reject' && missing.reason.includes('Missing Host'));
  t.is(statusOf(plain(head('GET / HTTP/2.0', ['Host: h']))), 'http');
});

const rejectCases: Array<{ title: string; text: string; status: number; reason: string; headers?: [string, string][] }> = [
  { title: 'repeated Host', text: head('GET / HTTP/1.1', ['Host: a', 'Host: b']), status: 400, reason: 'Repeated Host' },
  { title: 'repeated Host in HTTP/1.0', text: head('GET / HTTP/1.0', ['Host: a', 'Host: b']), status: 400, reason: 'Repeated Host' },
  { title: 'invalid Host', text: head('GET / HTTP/1.1', ['Host: a b@c']), status: 400, reason: 'Invalid Host' },
  { title: 'Transfer-Encoding', text: head('POST / HTTP/1.1', ['Host: h', 'Transfer-Encoding: chunked']), status: 413, reason: 'Transfer-Encoding' },
  { title: 'a positive Content-Length', text: head('POST / HTTP/1.1', ['Host: h', 'Content-Length: 5']), status: 413, reason: 'Content-Length' },
  { title: 'a non-numeric Content-Length', text: head('POST / HTTP/1.1', ['Host: h', 'Content-Length: five']), status: 400, reason: 'Invalid Content-Length' },
  { title: 'a negative Content-Length', text: head('POST / HTTP/1.1', ['Host: h', 'Content-Length: -1']), status: 400, reason: 'Invalid Content-Length' },
  { title: 'differing Content-Length values', text: head('POST / HTTP/1.1', ['Host: h', 'Content-Length: 0', 'Content-Length: 1']), status: 400, reason: 'Invalid Content-Length' },
  { title: 'an empty Content-Length', text: head('POST / HTTP/1.1', ['Host: h', 'Content-Length: ']), status: 400, reason: 'Invalid Content-Length' },
  { title: 'HTTP/0.9 (at the request line)', text: head('GET / HTTP/0.9', ['Host: h']), status: 400, reason: 'HTTP/1.1 or later' },
  { title: 'asterisk-form target', text: head('OPTIONS * HTTP/1.1', ['Host: h']), status: 400, reason: 'Malformed request target' },
  { title: 'authority-form target', text: head('CONNECT h:443 HTTP/1.1', ['Host: h']), status: 400, reason: 'Malformed request target' },
  { title: 'a header line without a colon', text: head('GET / HTTP/1.1', ['Host: h', 'oops']), status: 400, reason: '' },
  // Upgrade attempts: the answers they get without plainHttp.
  { title: 'an upgrade with POST', text: head('POST / HTTP/1.1', upgradeFields), status: 405, reason: 'Method POST not allowed', headers: [['Allow', 'GET']] },
  { title: 'an upgrade over HTTP/1.0', text: head('GET / HTTP/1.0', upgradeFields), status: 400, reason: 'HTTP/1.1 or later is required, got HTTP/1.0' },
  { title: 'an upgrade with a bad key', text: head('GET / HTTP/1.1', [...upgradeFields.slice(0, 3), 'Sec-WebSocket-Key: short', upgradeFields[4]!]), status: 400, reason: 'Sec-WebSocket-Key' },
  { title: 'an upgrade with version 8', text: head('GET / HTTP/1.1', [...upgradeFields.slice(0, 4), 'Sec-WebSocket-Version: 8']), status: 426, reason: 'version 8', headers: [['Sec-WebSocket-Version', '13']] },
  { title: 'an upgrade without Connection: upgrade', text: head('GET / HTTP/1.1', upgradeFields.filter((f) => !f.startsWith('Connection'))), status: 400, reason: 'Connection' },
  { title: 'an upgrade with a body', text: head('GET / HTTP/1.1', [...upgradeFields, 'Content-Length: 3']), status: 400, reason: 'must not have a body' },
  { title: 'an upgrade listing websocket among others', text: head('GET / HTTP/1.1', ['Host: h', 'Upgrade: h2c, WebSocket', 'Connection: Upgrade']), status: 426, reason: 'Missing Sec-WebSocket-Version', headers: [['Sec-WebSocket-Version', '13']] },
];

for (const c of rejectCases) {
  test(`plainHttp reject ${c.status}: ${c.title}`, (t) => {
    const result = plain(c.text);
    if (result.kind !== 'reject') return t.fail(JSON.stringify(verdict(result)));
    t.is(result.status, c.status);
    t.true(result.reason.includes(c.reason), result.reason);
    t.deepEqual(result.headers, c.headers ?? []);
  });
}

test('Content-Length: 0 (also repeated) and other upgrades (h2c) are plain requests', (t) => {
  t.is(statusOf(plain(head('POST / HTTP/1.1', ['Host: h', 'Content-Length: 0']))), 'http');
  t.is(statusOf(plain(head('POST / HTTP/1.1', ['Host: h', 'Content-Length: 0, 00']))), 'http');
  const h2c = plain(head('GET / HTTP/1.1', ['Host: h', 'Upgrade: h2c', 'Connection: Upgrade, HTTP2-Settings']));
  t.is(statusOf(h2c), 'http');
});

test('a valid upgrade gives the same request with and without plainHttp', (t) => {
  const text = Buffer.concat([bytes(head('GET /chat?a=1 HTTP/1.1', [...upgradeFields, 'Sec-WebSocket-Protocol: chat'])), bytes('\x81\x00')]);
  const withOption = plain(text);
  t.is(withOption.kind, 'request');
  t.deepEqual(verdict(withOption), verdict(strict(text)));
  t.deepEqual([...(withOption.kind === 'request' ? withOption.rest : [])], [0x81, 0x00]);
});

test('a request line that cannot be HTTP is still refused before the headers arrive', (t) => {
  const parser = new ServerHandshakeParser({ plainHttp: true });
  t.is(parser.feed(bytes('GET  / HTTP/1.1')).kind, 'incomplete');
  t.is(statusOf(parser.feed(bytes('\r\n'))), 400);
  // A method other than GET waits for the headers: it may be a plain request.
  const post = new ServerHandshakeParser({ plainHttp: true });
  t.is(post.feed(bytes('POST / HTTP/1.1\r\n')).kind, 'incomplete');
});

test('431 applies to plain requests too', (t) => {
  const result = plain(head('GET / HTTP/1.1', ['Host: h', `X-Padding: ${'a'.repeat(20_000)}`]));
  t.is(statusOf(result), 431);
});

test('every split point of a plain request gives the same request and rest', (t) => {
  const tail = bytes('GET /again HTTP/1.1\r\n\r\n');
  const data = Buffer.concat([bytes(head('HEAD /p?q HTTP/1.0', ['User-Agent: test', 'Host: x:1'])), tail]);
  const expected = plain(data);
  t.is(expected.kind, 'http');
  for (let cut = 0; cut <= data.length; cut++) {
    const parser = new ServerHandshakeParser({ plainHttp: true });
    let result = parser.feed(data.subarray(0, cut));
    let after: Uint8Array = data.subarray(cut);
    if (result.kind === 'incomplete') {
      result = parser.feed(after);
      after = new Uint8Array(0);
    }
    t.deepEqual(verdict(result), verdict(expected), `cut at ${cut}`);
    const rest = result.kind === 'http' ? Buffer.concat([result.rest, after]) : Buffer.alloc(0);
    t.deepEqual([...rest], [...tail], `cut at ${cut}`);
  }
});

test('on corrupted upgrade requests, the option changes nothing about upgrades, and chunking changes nothing (property)', (t) => {
  const good = bytes(head('GET /chat HTTP/1.1', upgradeFields));
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat({ max: good.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat({ max: good.length }), { maxLength: 20 }),
      (edits, cuts) => {
        const data = Uint8Array.from(good);
        for (const { at, byte } of edits) data[at] = byte;
        const withOption = plain(data, 400);
        const without = strict(data, 400);
        if (withOption.kind === 'request' || without.kind === 'request') t.deepEqual(verdict(withOption), verdict(without));
        if (withOption.kind === 'reject') t.true([400, 405, 413, 426, 431].includes(withOption.status));

        const parser = new ServerHandshakeParser({ plainHttp: true, maxHeaderSize: 400 });
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        let start = 0;
        let chunked: ServerRequestResult = { kind: 'incomplete' };
        for (const end of [...points, data.length]) {
          chunked = parser.feed(data.subarray(start, end));
          start = end;
          if (chunked.kind !== 'incomplete') break;
        }
        t.deepEqual(verdict(chunked), verdict(withOption));
      },
    ),
    { numRuns: 500 },
  );
});

test('random bytes never throw out of feed with plainHttp (property)', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(''), fc.constant('GET / HTTP/1.1\r\n'), fc.constant('POST /x HTTP/1.0\r\nHost: a\r\n')),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
      (prefix, chunks) => {
        const parser = new ServerHandshakeParser({ plainHttp: true, maxHeaderSize: 1024 });
        for (const chunk of [bytes(prefix), ...chunks]) {
          const result = parser.feed(chunk);
          if (result.kind === 'reject') {
            t.true([400, 405, 413, 426, 431].includes(result.status));
            return;
          }
          if (result.kind !== 'incomplete') return;
        }
      },
    ),
    { numRuns: 1000 },
  );
});
