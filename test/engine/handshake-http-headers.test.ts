import test from 'ava';
import fc from 'fast-check';
import {
  assertHeaderField,
  headerRecord,
  getHeader,
  HeaderBlockReader,
  isFieldValue,
  isToken,
  isValidHost,
  listHasToken,
  parseCommaList,
  parseHeaderLine,
} from '../../src/shared/engine/http-headers.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

test('isToken follows RFC 9110 tchar', (t) => {
  for (const good of ['websocket', 'chat.v2', "a!#$%&'*+-.^_`|~z", 'X', '13']) t.true(isToken(good), good);
  for (const bad of ['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a/b', '(a)', '<a>', 'a@b', '[a]', '{a}', 'a?', 'a:b', 'a\\b', 'a\tb', 'ü', 'a\x7f', 'a\0']) {
    t.false(isToken(bad), JSON.stringify(bad));
  }
});

test('parseCommaList trims OWS and drops empty elements (RFC 9110 5.6.1)', (t) => {
  t.deepEqual(parseCommaList('keep-alive, Upgrade'), ['keep-alive', 'Upgrade']);
  t.deepEqual(parseCommaList(' a ,\tb\t,, ,c'), ['a', 'b', 'c']);
  t.deepEqual(parseCommaList(',,,'), []);
  t.deepEqual(parseCommaList(''), []);
});

test('listHasToken is case-insensitive and matches whole elements only', (t) => {
  t.true(listHasToken('keep-alive, Upgrade', 'upgrade'));
  t.true(listHasToken('UPGRADE', 'upgrade'));
  t.true(listHasToken('h2c, WebSocket', 'websocket'));
  t.false(listHasToken('keep-alive', 'upgrade'));
  t.false(listHasToken('upgrade-insecure-requests', 'upgrade'));
  t.false(listHasToken('websocketx', 'websocket'));
  t.false(listHasToken(undefined, 'upgrade'));
});

test('listHasToken agrees with splitting, trimming and lowercasing the list, whatever the characters (property)', (t) => {
  // Letters of both cases, the characters one bit away from a letter ('@', '[', '`', '{'),
  // separators, whitespace and Latin-1 letters (a header value is read as Latin-1).
  const unit = fc.constantFrom(...'upgradeUPGRADEwebsocketWEBSOCKET@[`{-, \t,,xÀàÿ'.split(''));
  const reference = (value: string, token: string) => value.split(',').some((part) => part.trim().toLowerCase() === token.toLowerCase());
  fc.assert(fc.property(fc.array(unit, { maxLength: 40 }).map((units) => units.join('')), fc.constantFrom('upgrade', 'websocket', 'Upgrade', 'a@'), (value, token) => {
    t.is(listHasToken(value, token), reference(value, token), `${JSON.stringify(value)} ${token}`);
  }), { numRuns: 3000 });
  t.true(listHasToken('x, \tUpGrAdE\t ,y', 'upgrade'));
  t.false(listHasToken('upgrad`', 'upgrade'), 'a backtick is no e');
  t.false(listHasToken('@', '`'));
});

test('parseHeaderLine trims OWS around the value and keeps inner whitespace', (t) => {
  t.deepEqual(parseHeaderLine('Host: example.com'), { ok: true, name: 'Host', value: 'example.com' });
  t.deepEqual(parseHeaderLine('X-A:\t a  b \t'), { ok: true, name: 'X-A', value: 'a  b' });
  t.deepEqual(parseHeaderLine('X-Empty:'), { ok: true, name: 'X-Empty', value: '' });
  t.deepEqual(parseHeaderLine('X-Colon: a:b'), { ok: true, name: 'X-Colon', value: 'a:b' });
  t.deepEqual(parseHeaderLine('X-Latin: caf\xe9'), { ok: true, name: 'X-Latin', value: 'caf\xe9' });
});

test('parseHeaderLine refuses what RFC 9112 section 5 refuses', (t) => {
  for (const bad of ['no colon', 'Bad Name: x', 'Name : x', 'Name\t: x', ': x', ' folded', '\tfolded', 'X: a\0b', 'X: a\x01b', 'X: a\x7fb', '(x): y']) {
    const result = parseHeaderLine(bad);
    t.false(result.ok, JSON.stringify(bad));
  }
});

test('headerRecord lowercases names, joins repeats with ", ", and keeps __proto__ as data', (t) => {
  const record = headerRecord([
    ['Sec-WebSocket-Protocol', 'a'],
    ['X-One', '1'],
    ['sec-websocket-protocol', 'b, c'],
    ['__proto__', 'x'],
    ['constructor', 'y'],
  ]);
  t.is(getHeader(record, 'sec-websocket-protocol'), 'a, b, c');
  t.is(getHeader(record, 'x-one'), '1');
  t.is(getHeader(record, '__proto__'), 'x');
  t.is(getHeader(record, 'constructor'), 'y');
  t.is(Object.getPrototypeOf(record), Object.prototype);
  t.is(getHeader(headerRecord([]), 'constructor'), undefined);
  t.is(getHeader(headerRecord([]), '__proto__'), undefined);
});

test('isFieldValue refuses CR, LF, NUL, other controls and characters above U+00FF', (t) => {
  t.true(isFieldValue('a b\tc\xff~'));
  for (const bad of ['a\rb', 'a\nb', 'a\0b', 'a\x1bb', 'a\x7fb', 'a\u0100b', '😀']) t.false(isFieldValue(bad), JSON.stringify(bad));
});

test('assertHeaderField throws InvalidArgumentError for injection attempts', (t) => {
  t.notThrows(() => assertHeaderField('X-Ok', 'fine'));
  t.throws(() => assertHeaderField('X-Bad\r\nInjected', 'v'), { instanceOf: InvalidArgumentError });
  t.throws(() => assertHeaderField('X-Bad', 'v\r\nInjected: 1'), { instanceOf: InvalidArgumentError });
  t.throws(() => assertHeaderField('X-Bad', 'v\0'), { instanceOf: InvalidArgumentError });
  t.throws(() => assertHeaderField('', 'v'), { instanceOf: InvalidArgumentError });
});

test('isValidHost accepts names, IPv4, bracketed IPv6 and ports; refuses userinfo and junk', (t) => {
  for (const good of ['example.com', 'example.com:8080', '127.0.0.1:1', '[::1]', '[::1]:443', 'xn--bcher-kva.example', 'localhost:']) {
    t.true(isValidHost(good), good);
  }
  for (const bad of ['', 'user:pass@example.com', 'a b', 'example.com/path', 'example.com?x', 'example.com#x', '::1', 'ex\r\nample', 'example.com:123456', '[::1']) {
    t.false(isValidHost(bad), JSON.stringify(bad));
  }
});

test('HeaderBlockReader: lines, rest, and a one-byte-at-a-time feed agree', (t) => {
  const text = 'HTTP/1.1 101 X\r\nA: 1\r\nB: 2\r\n\r\nREST';
  const whole = new HeaderBlockReader(1000, false);
  const status = whole.feed(bytes(text));
  t.is(status.kind, 'complete');
  t.deepEqual(whole.lines, ['HTTP/1.1 101 X', 'A: 1', 'B: 2']);
  t.is(status.kind === 'complete' ? Buffer.from(status.rest).toString() : '', 'REST');

  const split = new HeaderBlockReader(1000, false);
  const all = bytes(text);
  let last = split.feed(all.subarray(0, 1));
  let i = 1;
  for (; last.kind === 'incomplete' && i < all.length; i++) last = split.feed(all.subarray(i, i + 1));
  t.is(last.kind, 'complete');
  t.deepEqual(split.lines, whole.lines);
  // the final LF came in its own chunk, so the rest is in the chunks that follow
  t.is(Buffer.from(all.subarray(i)).toString(), 'REST');
});

test('HeaderBlockReader: the limit counts the whole block including the final CRLF', (t) => {
  const text = 'GET / HTTP/1.1\r\nA: 1\r\n\r\n';
  t.is(new HeaderBlockReader(text.length, false).feed(bytes(text)).kind, 'complete');
  t.is(new HeaderBlockReader(text.length - 1, false).feed(bytes(text)).kind, 'tooLarge');
  // without any LF, the limit trips as soon as one byte too many is buffered
  const reader = new HeaderBlockReader(10, false);
  t.is(reader.feed(bytes('0123456789')).kind, 'incomplete');
  t.is(reader.feed(bytes('x')).kind, 'tooLarge');
});

test('HeaderBlockReader: bare LF, bare CR and an empty start line are malformed', (t) => {
  t.is(new HeaderBlockReader(100, false).feed(bytes('GET / HTTP/1.1\nA: 1\r\n\r\n')).kind, 'malformed');
  t.is(new HeaderBlockReader(100, false).feed(bytes('GET / HTTP/1.1\r\nA: 1\r2\r\n\r\n')).kind, 'malformed');
  t.is(new HeaderBlockReader(100, false).feed(bytes('GET / HTTP/1.1\r\n\n')).kind, 'malformed');
  t.is(new HeaderBlockReader(100, false).feed(bytes('\r\nGET / HTTP/1.1\r\n\r\n')).kind, 'malformed');
});

test('HeaderBlockReader: leading empty lines are skipped when asked (RFC 9112 2.2)', (t) => {
  const reader = new HeaderBlockReader(100, true);
  t.is(reader.feed(bytes('\r\n\r\nGET / HTTP/1.1\r\n\r\n')).kind, 'complete');
  t.deepEqual(reader.lines, ['GET / HTTP/1.1']);
});

test('HeaderBlockReader: feeding after the end is a usage error', (t) => {
  const reader = new HeaderBlockReader(100, false);
  reader.feed(bytes('HTTP/1.1 101 X\r\n\r\n'));
  t.throws(() => reader.feed(bytes('x')), { instanceOf: InvalidArgumentError });
});
