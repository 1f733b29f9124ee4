import test from 'ava';
import fc from 'fast-check';
import { applyMask, maskInto } from '../../src/shared/engine/mask.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

/** RFC 6455 section 5.3 spelled out: byte i meets key byte (i + phase) mod 4. */
function referenceMask(data: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[(((i + phase) % 4) + 4) % 4]!;
  return out;
}

/** Deterministic non-repeating-looking bytes, so a wrong key phase shows up. */
function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

/** `length` bytes at byte offset `byteOffset` of a larger buffer whose other bytes are `fill`. */
function placed(bytes: Uint8Array, byteOffset: number, fill = 0xaa): Uint8Array {
  const backing = new Uint8Array(byteOffset + bytes.length + 8).fill(fill);
  const view = backing.subarray(byteOffset, byteOffset + bytes.length);
  view.set(bytes);
  return view;
}

const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
/** Lengths 0..67 as asked, plus enough around and above the word-path threshold. */
const lengths = [...Array.from({ length: 200 }, (_, i) => i), 255, 256, 257, 1023, 1024, 1025];

test('RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d', (t) => {
  const data = new TextEncoder().encode('Hello');
  applyMask(data, key, 0);
  t.deepEqual([...data], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);

  const target = new Uint8Array(7);
  maskInto(new TextEncoder().encode('Hello'), target, 2, key);
  t.deepEqual([...target], [0, 0, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
});

test('applyMask equals the byte-by-byte reference for every length, phase and byte offset', (t) => {
  let cases = 0;
  for (const length of lengths) {
    const original = patternBytes(length, length + 1);
    for (let byteOffset = 0; byteOffset < 4; byteOffset++) {
      for (const keyOffset of [0, 1, 2, 3, 4, 5, 7, 1001, -1]) {
        const data = placed(original, byteOffset);
        applyMask(data, key, keyOffset);
        const expected = referenceMask(original, key, keyOffset);
        if (!equalBytes(data, expected)) {
          t.fail(`length ${length}, byteOffset ${byteOffset}, keyOffset ${keyOffset}`);
          return;
        }
        // Bytes around the view stay untouched.
        const backing = new Uint8Array(data.buffer);
        if (backing.subarray(0, byteOffset).some((b) => b !== 0xaa) || backing.subarray(byteOffset + length).some((b) => b !== 0xaa)) {
          t.fail(`bytes outside the view changed: length ${length}, byteOffset ${byteOffset}`);
          return;
        }
        cases++;
      }
    }
  }
  t.is(cases, lengths.length * 4 * 9);
});

test('applying the mask twice restores the data', (t) => {
  for (const length of [0, 1, 5, 63, 64, 65, 300]) {
    const original = patternBytes(length, 99);
    const data = placed(original, 3);
    applyMask(data, key, 2);
    if (length >= 4) t.false(equalBytes(data, original));
    applyMask(data, key, 2);
    t.true(equalBytes(data, original), `length ${length}`);
  }
});

test('unmasking a payload chunk by chunk, keyOffset = bytes done, equals unmasking it whole', (t) => {
  const original = patternBytes(5000, 7);
  const whole = original.slice();
  applyMask(whole, key, 0);
  for (const chunkSizes of [[1, 2, 3, 4, 5], [63, 65, 127, 1], [4999, 1], [7]]) {
    const chunked = original.slice();
    let done = 0;
    for (let c = 0; done < chunked.length; c++) {
      const size = Math.min(chunkSizes[c % chunkSizes.length]!, chunked.length - done);
      applyMask(chunked.subarray(done, done + size), key, done);
      done += size;
    }
    t.true(equalBytes(chunked, whole), `chunks ${chunkSizes.join(',')}`);
  }
});

test('maskInto equals the reference for every length, source offset and target offset', (t) => {
  let cases = 0;
  for (const length of lengths) {
    const original = patternBytes(length, length + 5);
    for (let sourceOffset = 0; sourceOffset < 4; sourceOffset++) {
      const source = placed(original, sourceOffset);
      for (let targetByteOffset = 0; targetByteOffset < 4; targetByteOffset++) {
        for (const targetOffset of [0, 1, 2, 3, 6, 8, 14]) {
          const target = placed(new Uint8Array(targetOffset + length + 3).fill(0x55), targetByteOffset, 0x55);
          maskInto(source, target, targetOffset, key);
          const expected = new Uint8Array(target.length).fill(0x55);
          expected.set(referenceMask(original, key, 0), targetOffset);
          if (!equalBytes(target, expected) || !equalBytes(source, original)) {
            t.fail(`length ${length}, source offset ${sourceOffset}, target ${targetByteOffset}+${targetOffset}`);
            return;
          }
          cases++;
        }
      }
    }
  }
  t.is(cases, lengths.length * 4 * 4 * 7);
});

test('maskInto between two views of the same buffer, apart or overlapping', (t) => {
  for (const length of [10, 1000]) {
    for (const [sourceAt, targetAt] of [[0, 2048], [2048, 0], [1, 1029], [3, 1500], [0, 2], [2, 0], [4, 0], [0, 4], [5, 5]] as const) {
      const backing = new Uint8Array(4096);
      const original = patternBytes(length, 3);
      backing.set(original, sourceAt);
      maskInto(backing.subarray(sourceAt, sourceAt + length), backing, targetAt, key);
      t.true(equalBytes(backing.subarray(targetAt, targetAt + length), referenceMask(original, key, 0)), `${length}: ${sourceAt} -> ${targetAt}`);
      if (Math.abs(sourceAt - targetAt) >= length) t.true(equalBytes(backing.subarray(sourceAt, sourceAt + length), original));
    }
  }
});

test('1 MiB + odd payloads at odd byte offsets', (t) => {
  for (const length of [1024 * 1024, 1024 * 1024 + 3, 1024 * 1024 + 1]) {
    const original = patternBytes(length, length);
    for (const byteOffset of [1, 3]) {
      const data = placed(original, byteOffset);
      applyMask(data, key, 1);
      t.true(equalBytes(data, referenceMask(original, key, 1)), `applyMask ${length} at ${byteOffset}`);

      const target = new Uint8Array(length + 10);
      maskInto(placed(original, byteOffset), target, 10, key);
      t.true(equalBytes(target.subarray(10), referenceMask(original, key, 0)), `maskInto ${length} at ${byteOffset}`);
    }
  }
});

test('property: applyMask and maskInto equal the reference for any bytes, key, phase and offsets', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 0, max: 1 << 20 }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 7 }),
      (original, anyKey, keyOffset, byteOffset, targetOffset) => {
        const data = placed(original, byteOffset);
        applyMask(data, anyKey, keyOffset);
        const target = new Uint8Array(targetOffset + original.length);
        maskInto(placed(original, byteOffset), target, targetOffset, anyKey);
        return (
          equalBytes(data, referenceMask(original, anyKey, keyOffset)) &&
          equalBytes(target.subarray(targetOffset), referenceMask(original, anyKey, 0))
        );
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});

test('a key that is not 4 bytes, or a target without room, throws InvalidArgumentError', (t) => {
  t.throws(() => applyMask(new Uint8Array(8), new Uint8Array(3), 0), { instanceOf: InvalidArgumentError });
  t.throws(() => applyMask(new Uint8Array(8), new Uint8Array(5), 0), { instanceOf: InvalidArgumentError });
  t.throws(() => maskInto(new Uint8Array(8), new Uint8Array(8), 0, new Uint8Array(0)), { instanceOf: InvalidArgumentError });
  t.throws(() => maskInto(new Uint8Array(8), new Uint8Array(8), 1, key), { instanceOf: InvalidArgumentError });
  t.throws(() => maskInto(new Uint8Array(8), new Uint8Array(16), -1, key), { instanceOf: InvalidArgumentError });
  t.throws(() => maskInto(new Uint8Array(8), new Uint8Array(16), 1.5, key), { instanceOf: InvalidArgumentError });
  const target = new Uint8Array(8);
  maskInto(new Uint8Array(8).fill(1), target, 0, key);
  t.deepEqual([...target], [...referenceMask(new Uint8Array(8).fill(1), key, 0)]);
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
