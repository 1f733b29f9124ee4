import test from 'ava';
import { BINARY_HEADER_LENGTH, TEXT_HEADER_LENGTH, createPayloadCodec } from '../../src/loadgen/payload.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

test('a generated text payload has the size asked for and carries connection, sequence and send time', (t) => {
  const codec = createPayloadCodec({ binary: false, size: 64 });
  const payload = codec.build(7, 42, 123_456.7);
  t.is(typeof payload, 'string');
  t.is((payload as string).length, 64);
  t.true(codec.embedsHeader);
  t.is((payload as string).slice(0, TEXT_HEADER_LENGTH), 'c00000007s00000000002at00000001e241');
  t.deepEqual(codec.check(payload, 7, 42, 123_456.7), { ok: true, sendMicros: 123_457 });
});

test('a text reply that differs in one character, in length, in sequence or in type is a mismatch', (t) => {
  const codec = createPayloadCodec({ binary: false, size: 100 });
  const payload = codec.build(1, 5, 1000) as string;
  const flipped = payload.slice(0, 80) + (payload[80] === 'x' ? 'y' : 'x') + payload.slice(81);
  t.false(codec.check(flipped, 1, 5, 1000).ok);
  t.false(codec.check(payload.slice(0, 99), 1, 5, 1000).ok);
  t.like(codec.check(payload, 1, 6, 1000), { ok: false, reason: 'reply to message 5, expected 6' });
  t.false(codec.check(payload, 2, 5, 1000).ok);
  t.false(codec.check(new TextEncoder().encode(payload), 1, 5, 1000).ok);
});

test('a generated binary payload round-trips its header and is checked byte for byte', (t) => {
  const codec = createPayloadCodec({ binary: true, size: 256 });
  const payload = codec.build(3, 9, 5_000_000) as Uint8Array;
  t.is(payload.byteLength, 256);
  const reply = Uint8Array.from(payload);
  t.deepEqual(codec.check(reply, 3, 9, 5_000_000), { ok: true, sendMicros: 5_000_000 });
  for (const at of [0, 5, 13, BINARY_HEADER_LENGTH, 255]) {
    const bad = Uint8Array.from(payload);
    bad[at]! ^= 1;
    t.false(codec.check(bad, 3, 9, 5_000_000).ok, `byte ${at} flipped`);
  }
  t.false(codec.check('text', 3, 9, 5_000_000).ok);
});

test('payloads smaller than the header are matched by order and still checked byte for byte', (t) => {
  const text = createPayloadCodec({ binary: false, size: 8 });
  t.false(text.embedsHeader);
  t.is(text.build(1, 1, 1), 'abcdefgh');
  t.deepEqual(text.check('abcdefgh', 1, 1, 77), { ok: true, sendMicros: 77 });
  t.false(text.check('abcdefgX', 1, 1, 77).ok);
  const binary = createPayloadCodec({ binary: true, size: 4 });
  const bytes = Uint8Array.from(binary.build(0, 0, 0) as Uint8Array);
  t.deepEqual([...bytes], [7, 38, 69, 100]);
  t.true(binary.check(bytes, 0, 0, 0).ok);
  t.true(createPayloadCodec({ binary: false, size: 0 }).check('', 0, 0, 0).ok);
});

test('a text template replaces {{seq}} and {{conn}} and the reply must match exactly', (t) => {
  const codec = createPayloadCodec({ binary: false, size: 0, template: new TextEncoder().encode('{"id":{{seq}},"from":{{conn}}}') });
  t.is(codec.build(4, 17, 0), '{"id":17,"from":4}');
  t.true(codec.check('{"id":17,"from":4}', 4, 17, 10).ok);
  t.false(codec.check('{"id":18,"from":4}', 4, 17, 10).ok);
  const constant = createPayloadCodec({ binary: false, size: 0, template: new TextEncoder().encode('hello') });
  t.is(constant.build(1, 2, 3), 'hello');
});

test('a binary template is sent as is; a text template must be UTF-8', (t) => {
  const bytes = Uint8Array.of(0xff, 0, 1, 2);
  const codec = createPayloadCodec({ binary: true, size: 0, template: bytes });
  t.is(codec.build(0, 0, 0), bytes);
  t.true(codec.check(Uint8Array.of(0xff, 0, 1, 2), 0, 0, 0).ok);
  t.false(codec.check(Uint8Array.of(0xff, 0, 1, 3), 0, 0, 0).ok);
  t.throws(() => createPayloadCodec({ binary: false, size: 0, template: bytes }), { instanceOf: InvalidArgumentError });
  t.throws(() => createPayloadCodec({ binary: false, size: -1 }), { instanceOf: InvalidArgumentError });
});
