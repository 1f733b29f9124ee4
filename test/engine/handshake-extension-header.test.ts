import test from 'ava';
import fc from 'fast-check';
import { formatExtensionHeader, parseExtensionHeader } from '../../src/shared/engine/extension-header.ts';
import type { ExtensionOffer } from '../../src/shared/engine/extension.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

function offers(value: string): ExtensionOffer[] {
  const parsed = parseExtensionHeader(value);
  if (!parsed.ok) throw new Error(`unexpected parse failure: ${parsed.reason}`);
  return parsed.offers;
}

test('RFC 6455 9.1 examples', (t) => {
  t.deepEqual(offers('foo'), [{ name: 'foo', params: {} }]);
  t.deepEqual(offers('bar; baz=2'), [{ name: 'bar', params: { baz: '2' } }]);
  t.deepEqual(offers('foo, bar; baz=2'), [
    { name: 'foo', params: {} },
    { name: 'bar', params: { baz: '2' } },
  ]);
  t.deepEqual(offers('mux; max-channels=4; flow-control, deflate-stream'), [
    { name: 'mux', params: { 'max-channels': '4', 'flow-control': true } },
    { name: 'deflate-stream', params: {} },
  ]);
});

test('RFC 7692 examples, with a quoted value unescaped', (t) => {
  t.deepEqual(offers('permessage-deflate; client_max_window_bits; server_max_window_bits=10'), [
    { name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: '10' } },
  ]);
  t.deepEqual(offers('permessage-deflate; client_max_window_bits="10"'), [
    { name: 'permessage-deflate', params: { client_max_window_bits: '10' } },
  ]);
  t.deepEqual(offers('permessage-deflate; server_max_window_bits=10, permessage-deflate'), [
    { name: 'permessage-deflate', params: { server_max_window_bits: '10' } },
    { name: 'permessage-deflate', params: {} },
  ]);
});

test('quoted-pair escapes are undone', (t) => {
  t.deepEqual(offers('x; a="1\\0"'), [{ name: 'x', params: { a: '10' } }]);
  t.deepEqual(offers('x; a="\\a\\b"'), [{ name: 'x', params: { a: 'ab' } }]);
});

test('optional whitespace around , ; and = is allowed (implied *LWS of RFC 2616)', (t) => {
  t.deepEqual(offers(' a ;\tb = 1 ; c ,\td ; e="f" '), [
    { name: 'a', params: { b: '1', c: true } },
    { name: 'd', params: { e: 'f' } },
  ]);
});

test('empty list elements are ignored (RFC 9110 5.6.1)', (t) => {
  t.deepEqual(offers(', a,, b ,'), [
    { name: 'a', params: {} },
    { name: 'b', params: {} },
  ]);
  t.deepEqual(offers(''), []);
  t.deepEqual(offers(' , '), []);
});

test('a parameter named __proto__ stays an own data property', (t) => {
  const [offer] = offers('x; __proto__=1');
  t.true(Object.hasOwn(offer!.params, '__proto__'));
  t.is(Object.getPrototypeOf(offer!.params), Object.prototype);
});

const badHeaders: [string, string][] = [
  ['x; a="1 0"', 'not a token once unescaped'],
  ['x; a=""', 'not a token once unescaped'],
  ['x; a="unterminated', 'unterminated'],
  ['x; a="ends in backslash\\', 'unterminated'],
  ['x;', 'expected a parameter name'],
  ['x; =1', 'expected a parameter name'],
  ['x;; a', 'expected a parameter name'],
  [';x', 'expected an extension name'],
  ['x y', 'expected "," or ";"'],
  ['x; a=', 'expected a parameter value'],
  ['x; a=1=2', 'expected "," or ";"'],
  ['x; a=(1)', 'expected a parameter value'],
  ['x=1', 'expected "," or ";"'],
  ['"x"', 'expected an extension name'],
  ['x; a="1"2', 'expected "," or ";"'],
  ['ü', 'expected an extension name'],
];

for (const [value, reason] of badHeaders) {
  test(`bad syntax is refused: ${JSON.stringify(value)}`, (t) => {
    const parsed = parseExtensionHeader(value);
    t.false(parsed.ok);
    if (!parsed.ok) {
      t.true(parsed.reason.startsWith('Invalid Sec-WebSocket-Extensions: '), parsed.reason);
      t.true(parsed.reason.includes(reason), parsed.reason);
    }
  });
}

test('formatExtensionHeader writes 9.1 syntax', (t) => {
  t.is(
    formatExtensionHeader([
      { name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: '10' } },
      { name: 'x-other', params: {} },
    ]),
    'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other',
  );
  t.is(formatExtensionHeader([]), '');
});

test('formatExtensionHeader refuses anything 9.1 cannot carry', (t) => {
  const bad: ExtensionOffer[] = [
    { name: '', params: {} },
    { name: 'a b', params: {} },
    { name: 'x\r\nInjected: 1', params: {} },
    { name: 'x', params: { 'a b': true } },
    { name: 'x', params: { a: '1 0' } },
    { name: 'x', params: { a: '' } },
    { name: 'x', params: { a: 'v\r\nInjected: 1' } },
    { name: 'x', params: { a: false as unknown as true } },
  ];
  for (const offer of bad) {
    t.throws(() => formatExtensionHeader([offer]), { instanceOf: InvalidArgumentError }, JSON.stringify(offer));
  }
});

const tokenArb = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
const offerArb = fc.record({
  name: tokenArb,
  params: fc.dictionary(tokenArb, fc.oneof(fc.constant(true as const), tokenArb), { maxKeys: 4 }),
});

test('format then parse gives the offers back (property)', (t) => {
  fc.assert(
    fc.property(fc.array(offerArb, { maxLength: 5 }), (list) => {
      const parsed = parseExtensionHeader(formatExtensionHeader(list));
      return parsed.ok && JSON.stringify(parsed.offers) === JSON.stringify(list);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('random text parses to offers that format and parse back to themselves, or is refused with a reason (property)', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'a=;,"\\ \t1xü('.split('')), maxLength: 40 }), (value) => {
      const parsed = parseExtensionHeader(value);
      if (!parsed.ok) return parsed.reason.length > 0;
      // What was accepted is a well-formed list: it survives a round trip unchanged.
      const again = parseExtensionHeader(formatExtensionHeader(parsed.offers));
      return again.ok && JSON.stringify(again.offers) === JSON.stringify(parsed.offers);
    }),
    { numRuns: 1000 },
  );
  t.pass();
});

test('a parameter named twice keeps its first value and is listed as repeated, for the extension to judge', (t) => {
  const parsed = parseExtensionHeader('x; a; a=1; b=2, y; b');
  t.deepEqual(parsed, { ok: true, offers: [{ name: 'x', params: { a: true, b: '2' }, repeated: ['a'] }, { name: 'y', params: { b: true } }] });
});
