import test from 'ava';
import { Buffer } from 'node:buffer';
import { BINARY_HEADER_LENGTH, TEXT_HEADER_LENGTH, createPayloadCodec, payloadBytes } from '../../src/loadgen/payload.ts';
import type { PayloadCodec } from '../../src/loadgen/payload.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

/** Checks `reply` placed in the middle of a larger buffer, as replies lie in a read buffer. */
function check(codec: PayloadCodec, reply: Uint8Array, text: boolean, conn: number, seq: number, sendMicros: number): string | undefined {
  const read = Buffer.concat([Buffer.from([1, 2, 3]), reply, Buffer.from([4, 5])]);
  return codec.check(read, 3, 3 + reply.length, text, conn, seq, sendMicros);
}

test('a generated text payload has the size asked for and carries connection, sequence and send time', (t) => {
  const codec = createPayloadCodec({ binary: false, size: 64 });
  const payload = payloadBytes(codec, 7, 42, 123_457);
  t.is(payload.length, 64);
  t.true(codec.embedsHeader);
  t.is(payload.toString('latin1', 0, TEXT_HEADER_LENGTH), 'c00000007s00000000002at00000001e241');
  t.is(payload.toString('latin1', TEXT_HEADER_LENGTH), 'abcdefghijklmnopqrstuvwxyzABC');
  t.is(check(codec, payload, true, 7, 42, 123_457), undefined);
  // The largest values the header holds: 8 and 12 hex digits.
  const big = payloadBytes(codec, 0xffffffff, 2 ** 48 - 1, 2 ** 40 + 5);
  t.is(big.toString('latin1', 0, TEXT_HEADER_LENGTH), 'cffffffffsfffffffffffft010000000005');
});

test('a text reply that differs in one byte, in length, in sequence, in connection or in type is a mismatch', (t) => {
  const codec = createPayloadCodec({ binary: false, size: 100 });
  const payload = payloadBytes(codec, 1, 5, 1000);
  for (const at of [0, 3, 12, 30, TEXT_HEADER_LENGTH, 80, 99]) {
    const flipped = Buffer.from(payload);
    flipped[at]! ^= 1;
    t.truthy(check(codec, flipped, true, 1, 5, 1000), `byte ${at} flipped`);
  }
  t.is(check(codec, payload.subarray(0, 99), true, 1, 5, 1000), 'reply of 99 bytes, expected 100');
  t.is(check(codec, payload, true, 1, 6, 1000), 'reply to message 5, expected 6');
  t.is(check(codec, payload, true, 2, 5, 1000), 'reply header differs from the message sent');
  t.is(check(codec, payload, true, 1, 5, 1001), 'reply header differs from the message sent');
  t.is(check(codec, payload, false, 1, 5, 1000), 'binary reply to a text message');
});

test('a generated binary payload carries its header and is checked byte for byte', (t) => {
  const codec = createPayloadCodec({ binary: true, size: 256 });
  const payload = payloadBytes(codec, 3, 9, 5_000_000);
  t.is(payload.length, 256);
  t.is(payload.readUInt32LE(0), 3);
  t.is(payload.readDoubleLE(4), 9);
  t.is(payload.readDoubleLE(12), 5_000_000);
  t.is(check(codec, payload, false, 3, 9, 5_000_000), undefined);
  for (const at of [0, 5, 13, BINARY_HEADER_LENGTH, 255]) {
    const bad = Buffer.from(payload);
    bad[at]! ^= 1;
    t.truthy(check(codec, bad, false, 3, 9, 5_000_000), `byte ${at} flipped`);
  }
  t.is(check(codec, payload, true, 3, 9, 5_000_000), 'text reply to a binary message');
  t.is(check(codec, payload, false, 3, 10, 5_000_000), 'reply to message 9, expected 10');
});

test('payloads smaller than the header are matched by order and still checked byte for byte', (t) => {
  const text = createPayloadCodec({ binary: false, size: 8 });
  t.false(text.embedsHeader);
  t.is(payloadBytes(text, 1, 1, 1).toString(), 'abcdefgh');
  t.is(check(text, Buffer.from('abcdefgh'), true, 1, 1, 77), undefined);
  t.truthy(check(text, Buffer.from('abcdefgX'), true, 1, 1, 77));
  const binary = createPayloadCodec({ binary: true, size: 4 });
  const bytes = payloadBytes(binary, 0, 0, 0);
  t.deepEqual([...bytes], [7, 38, 69, 100]);
  t.is(check(binary, bytes, false, 0, 0, 0), undefined);
  t.is(check(createPayloadCodec({ binary: false, size: 0 }), new Uint8Array(0), true, 0, 0, 0), undefined);
});

test('a text template replaces {{seq}} and {{conn}} and the reply must match exactly', (t) => {
  const codec = createPayloadCodec({ binary: false, size: 0, template: new TextEncoder().encode('{"id":{{seq}},"from":{{conn}},"é":1}') });
  t.is(payloadBytes(codec, 4, 17, 0).toString(), '{"id":17,"from":4,"é":1}');
  t.is(codec.lengthOf(4, 17), Buffer.byteLength('{"id":17,"from":4,"é":1}'));
  t.is(check(codec, Buffer.from('{"id":17,"from":4,"é":1}'), true, 4, 17, 10), undefined);
  t.truthy(check(codec, Buffer.from('{"id":18,"from":4,"é":1}'), true, 4, 17, 10));
  const constant = createPayloadCodec({ binary: false, size: 0, template: new TextEncoder().encode('hello') });
  t.is(payloadBytes(constant, 1, 2, 3).toString(), 'hello');
});

test('a binary template is sent as is; a text template must be UTF-8', (t) => {
  const bytes = Uint8Array.of(0xff, 0, 1, 2);
  const codec = createPayloadCodec({ binary: true, size: 0, template: bytes });
  t.deepEqual([...payloadBytes(codec, 0, 0, 0)], [0xff, 0, 1, 2]);
  t.is(check(codec, Uint8Array.of(0xff, 0, 1, 2), false, 0, 0, 0), undefined);
  t.truthy(check(codec, Uint8Array.of(0xff, 0, 1, 3), false, 0, 0, 0));
  t.throws(() => createPayloadCodec({ binary: false, size: 0, template: bytes }), { instanceOf: InvalidArgumentError });
  t.throws(() => createPayloadCodec({ binary: false, size: -1 }), { instanceOf: InvalidArgumentError });
});
