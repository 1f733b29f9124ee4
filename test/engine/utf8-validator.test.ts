import test from 'ava';
import fc from 'fast-check';
import { Utf8Validator, isValidUtf8 } from '../../src/shared/engine/utf8-validator.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const repeatHex = (bytes: number[], after = ''): string =>
  bytes.map((b) => b.toString(16).padStart(2, '0') + after).join('');
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * The UTF-8 cases of the Autobahn test suite, section 6 (after Markus Kuhn's decoder stress
 * test), as [case, hex bytes, valid].
 */
const autobahnCases: [string, string, boolean][] = [
  ['6.1.1 empty', '', true],
  ['6.2 Hello-µ@ßöäüàá-UTF-8!!', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!').toString('hex'), true],
  ['6.3.1 κόσμε + surrogate + edited', 'cebae1bdb9cf83cebcceb5 eda080 656469746564', false],
  ['6.4.1 κόσμε + beyond U+10FFFF', 'cebae1bdb9cf83cebcceb5 f4908080 656469746564', false],
  ['6.4.3 beyond U+10FFFF, truncated', 'cebae1bdb9cf83cebcceb5 f490', false],
  ['6.5.1 κόσμε', 'cebae1bdb9cf83cebcceb5', true],
  ['6.7.1 U+0000', '00', true],
  ['6.7.2 U+0080', 'c280', true],
  ['6.7.3 U+0800', 'e0a080', true],
  ['6.7.4 U+10000', 'f0908080', true],
  ['6.8.1 first 5-byte form', 'f888808080', false],
  ['6.8.2 first 6-byte form', 'fc8480808080', false],
  ['6.9.1 U+007F', '7f', true],
  ['6.9.2 U+07FF', 'dfbf', true],
  ['6.9.3 U+FFFF', 'efbfbf', true],
  ['6.9.4 U+10FFFF', 'f48fbfbf', true],
  ['6.10.1 U+1FFFFF', 'f7bfbfbf', false],
  ['6.10.2 U+3FFFFFF', 'fbbfbfbfbf', false],
  ['6.10.3 U+7FFFFFFF', 'fdbfbfbfbfbf', false],
  ['6.11.1 U+D7FF', 'ed9fbf', true],
  ['6.11.2 U+E000', 'ee8080', true],
  ['6.11.3 U+FFFD', 'efbfbd', true],
  ['6.11.4 U+10FFFF', 'f48fbfbf', true],
  ['6.11.5 U+110000', 'f4908080', false],
  ['6.12.1 lone 0x80', '80', false],
  ['6.12.2 lone 0xBF', 'bf', false],
  ['6.12.3 2 continuation bytes', '80bf', false],
  ['6.12.4 3 continuation bytes', '80bf80', false],
  ['6.12.5 4 continuation bytes', '80bf80bf', false],
  ['6.12.6 5 continuation bytes', '80bf80bf80', false],
  ['6.12.7 6 continuation bytes', '80bf80bf80bf', false],
  ['6.12.8 all 64 continuation bytes', repeatHex(range(0x80, 0xbf)), false],
  ['6.13.1 lonely 2-byte leads + space', repeatHex(range(0xc0, 0xdf), '20'), false],
  ['6.13.2 lonely 3-byte leads + space', repeatHex(range(0xe0, 0xef), '20'), false],
  ['6.13.3 lonely 4-byte leads + space', repeatHex(range(0xf0, 0xf7), '20'), false],
  ['6.13.4 lonely 5-byte leads + space', repeatHex(range(0xf8, 0xfb), '20'), false],
  ['6.13.5 lonely 6-byte leads + space', repeatHex(range(0xfc, 0xfd), '20'), false],
  ['6.14.1 U+0000 as 2 bytes, last missing', 'c0', false],
  ['6.14.2 U+0000 as 3 bytes, last missing', 'e080', false],
  ['6.14.3 U+0000 as 4 bytes, last missing', 'f08080', false],
  ['6.14.4 U+0000 as 5 bytes, last missing', 'f8808080', false],
  ['6.14.5 U+0000 as 6 bytes, last missing', 'fc80808080', false],
  ['6.14.6 U+07FF, last missing', 'df', false],
  ['6.14.7 U+FFFF, last missing', 'efbf', false],
  ['6.14.8 U+1FFFFF, last missing', 'f7bfbf', false],
  ['6.14.9 U+3FFFFFF, last missing', 'fbbfbfbf', false],
  ['6.14.10 U+7FFFFFFF, last missing', 'fdbfbfbfbf', false],
  ['6.14 U+0080, last missing (valid prefix)', 'c2', false],
  ['6.14 U+0800, last missing (valid prefix)', 'e0a0', false],
  ['6.14 U+10000, last missing (valid prefix)', 'f09080', false],
  ['6.15.1 all of 6.14 concatenated', 'c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf', false],
  ['6.16.1 0xFE', 'fe', false],
  ['6.16.2 0xFF', 'ff', false],
  ['6.16.3 FE FE FF FF', 'fefeffff', false],
  ['6.17.1 overlong / as 2 bytes', 'c0af', false],
  ['6.17.2 overlong / as 3 bytes', 'e080af', false],
  ['6.17.3 overlong / as 4 bytes', 'f08080af', false],
  ['6.17.4 overlong / as 5 bytes', 'f8808080af', false],
  ['6.17.5 overlong / as 6 bytes', 'fc80808080af', false],
  ['6.18.1 largest overlong 2-byte', 'c1bf', false],
  ['6.18.2 largest overlong 3-byte', 'e09fbf', false],
  ['6.18.3 largest overlong 4-byte', 'f08fbfbf', false],
  ['6.18.4 largest overlong 5-byte', 'f887bfbfbf', false],
  ['6.18.5 largest overlong 6-byte', 'fc83bfbfbfbf', false],
  ['6.19.1 overlong NUL, 2 bytes', 'c080', false],
  ['6.19.2 overlong NUL, 3 bytes', 'e08080', false],
  ['6.19.3 overlong NUL, 4 bytes', 'f0808080', false],
  ['6.19.4 overlong NUL, 5 bytes', 'f880808080', false],
  ['6.19.5 overlong NUL, 6 bytes', 'fc8080808080', false],
  ['6.20.1 U+D800', 'eda080', false],
  ['6.20.2 U+DB7F', 'edadbf', false],
  ['6.20.3 U+DB80', 'edae80', false],
  ['6.20.4 U+DBFF', 'edafbf', false],
  ['6.20.5 U+DC00', 'edb080', false],
  ['6.20.6 U+DF80', 'edbe80', false],
  ['6.20.7 U+DFFF', 'edbfbf', false],
  ['6.21.1 U+D800 U+DC00', 'eda080edb080', false],
  ['6.21.2 U+D800 U+DFFF', 'eda080edbfbf', false],
  ['6.21.3 U+DB7F U+DC00', 'edadbfedb080', false],
  ['6.21.4 U+DB7F U+DFFF', 'edadbfedbfbf', false],
  ['6.21.5 U+DB80 U+DC00', 'edae80edb080', false],
  ['6.21.6 U+DB80 U+DFFF', 'edae80edbfbf', false],
  ['6.21.7 U+DBFF U+DC00', 'edafbfedb080', false],
  ['6.21.8 U+DBFF U+DFFF', 'edafbfedbfbf', false],
  ['6.22.1 U+FFFE', 'efbfbe', true],
  ['6.22.2 U+FFFF', 'efbfbf', true],
  ['6.22.3 U+1FFFE', 'f09fbfbe', true],
  ['6.22.4 U+1FFFF', 'f09fbfbf', true],
  ['6.22.33 U+10FFFE', 'f48fbfbe', true],
  ['6.22.34 U+FDD0', 'efb790', true],
  ['6.22.35 U+FDEF', 'efb7af', true],
  ['6.23.1 U+FFFD', 'efbfbd', true],
  ['6.23.7 U+FEFF', 'efbbbf', true],
];

/** Independent judge: the WHATWG decoder behind TextDecoder, fatal mode. */
function decoderAccepts(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Index of the first byte after which the bytes can no longer start valid UTF-8, from TextDecoder
 * fed one byte at a time in streaming mode; `length` if only the end is missing; -1 if valid.
 */
function decoderFailIndex(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  try {
    decoder.decode();
    return -1;
  } catch {
    return bytes.length;
  }
}

/** Feed `bytes` cut at `cuts`; the result of every update and of finish. */
function feed(bytes: Uint8Array, cuts: number[], useRanges = false): { updates: boolean[]; finish: boolean } {
  const validator = new Utf8Validator();
  const points = [...new Set([0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length])].sort((a, b) => a - b);
  const updates: boolean[] = [];
  for (let p = 0; p + 1 < points.length; p++) {
    const from = points[p]!, to = points[p + 1]!;
    updates.push(useRanges ? validator.update(bytes, from, to) : validator.update(bytes.slice(from, to)));
  }
  return { updates, finish: validator.finish() };
}

function incrementalVerdict(bytes: Uint8Array, cuts: number[], useRanges = false): boolean {
  const { updates, finish } = feed(bytes, cuts, useRanges);
  return updates.every(Boolean) && finish;
}

/** Put `bytes` after 100 valid bytes and before 100 more, so that the native path sees them. */
function embedded(bytes: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode('κόσμε '.repeat(9) + 'x'); // 9 * 11 + 1 bytes
  const suffix = new TextEncoder().encode('x'.repeat(100));
  return Uint8Array.from([...prefix, ...bytes, ...suffix]);
}

test('the Autobahn 6.x cases: whole buffer, one update, and embedded in longer text', (t) => {
  t.is(embedded(new Uint8Array(0)).length, 200);
  for (const [name, hexBytes, valid] of autobahnCases) {
    const bytes = hex(hexBytes);
    t.is(decoderAccepts(bytes), valid, `${name}: the case table agrees with TextDecoder`);
    t.is(isValidUtf8(bytes), valid, `${name}: isValidUtf8`);
    t.is(incrementalVerdict(bytes, []), valid, `${name}: Utf8Validator`);
    t.is(isValidUtf8(embedded(bytes)), valid, `${name}: isValidUtf8 embedded`);
    t.is(incrementalVerdict(embedded(bytes), []), valid, `${name}: Utf8Validator embedded`);
  }
});

test('boundary code points encode to valid UTF-8 of the expected length', (t) => {
  const boundaries: [number, number][] = [
    [0x7f, 1], [0x80, 2], [0x7ff, 2], [0x800, 3], [0xd7ff, 3], [0xe000, 3],
    [0xffff, 3], [0x10000, 4], [0x10ffff, 4],
  ];
  for (const [codePoint, length] of boundaries) {
    const bytes = new TextEncoder().encode(String.fromCodePoint(codePoint));
    t.is(bytes.length, length);
    t.true(isValidUtf8(bytes), codePoint.toString(16));
    t.true(incrementalVerdict(embedded(bytes), []), codePoint.toString(16));
    // Cut inside the character: it must be carried over.
    for (let cut = 1; cut < length; cut++) t.true(incrementalVerdict(bytes, [cut]), `${codePoint.toString(16)} cut at ${cut}`);
  }
});

test('every split point (and every pair of split points) gives the verdict of the whole', (t) => {
  const samples = [
    ...autobahnCases.map(([, h]) => hex(h)),
    new TextEncoder().encode('aé€😀z'),
    embedded(hex('f09f9880')),
    embedded(hex('eda080')),
    embedded(hex('f490')),
  ];
  let checks = 0;
  for (const bytes of samples) {
    const whole = decoderAccepts(bytes);
    for (let a = 0; a <= bytes.length; a++) {
      if (incrementalVerdict(bytes, [a]) !== whole || incrementalVerdict(bytes, [a], true) !== whole) {
        t.fail(`${Buffer.from(bytes).toString('hex')} split at ${a}`);
        return;
      }
      checks++;
      if (bytes.length <= 64) {
        for (let b = a + 1; b < bytes.length; b++) {
          if (incrementalVerdict(bytes, [a, b]) !== whole) {
            t.fail(`${Buffer.from(bytes).toString('hex')} split at ${a} and ${b}`);
            return;
          }
          checks++;
        }
      }
    }
  }
  t.true(checks > 1000);
});

test('fails fast: the first byte that no valid text could follow fails its update', (t) => {
  const cases: [string, string, number][] = [
    ['beyond U+10FFFF', 'f490', 1],
    ['surrogate', 'eda0', 1],
    ['overlong 3-byte', 'e080', 1],
    ['overlong 4-byte', 'f08f', 1],
    ['0xC0', 'c0', 0],
    ['0xC1', 'c1', 0],
    ...range(0xf5, 0xff).map((b): [string, string, number] => [`0x${b.toString(16)}`, b.toString(16), 0]),
    ['lone continuation after ASCII', '4180', 1],
    ['κόσμε then surrogate', 'cebae1bdb9cf83cebcceb5eda080', 12],
    ['ASCII where a continuation is due', 'e2 82 41', 2],
  ];
  for (const [name, hexBytes, failIndex] of cases) {
    const bytes = hex(hexBytes);
    t.is(decoderFailIndex(bytes), failIndex, `${name}: the case table agrees with TextDecoder`);
    // One byte per update: true up to the bad byte, false from it on.
    const { updates } = feed(bytes, range(1, bytes.length - 1));
    t.deepEqual(updates, bytes.length === 0 ? [] : range(0, bytes.length - 1).map((i) => i < failIndex), name);
    // The bad byte at the end of a long chunk (native path plus the carried tail) fails that chunk.
    const long = embedded(bytes).subarray(0, 100 + failIndex + 1);
    const validator = new Utf8Validator();
    t.true(validator.update(long.subarray(0, 100)), name);
    t.false(validator.update(long.subarray(100)), name);
    const whole = new Utf8Validator();
    t.false(whole.update(long), `${name}: one long chunk ending with the bad byte`);
  }
});

test('an incomplete character is not a failure until finish', (t) => {
  const validator = new Utf8Validator();
  t.true(validator.update(hex('f09f98')));
  t.false(validator.finish());
  t.false(validator.finish(), 'finish does not change the state');
  t.true(validator.update(hex('80')));
  t.true(validator.finish());
  // After a true finish the validator is as good as new.
  t.true(validator.update(hex('e282ac')));
  t.true(validator.finish());
});

test('a failure sticks until reset', (t) => {
  const validator = new Utf8Validator();
  t.false(validator.update(hex('ff')));
  t.false(validator.update(hex('41')));
  t.false(validator.update(new Uint8Array(1000).fill(0x41)));
  t.false(validator.finish());
  validator.reset();
  t.true(validator.update(hex('41')));
  t.true(validator.finish());
  // reset also drops a pending partial character.
  t.true(validator.update(hex('e2')));
  validator.reset();
  t.true(validator.update(hex('41')));
  t.true(validator.finish());
});

test('update honours start and end, and rejects a range outside the bytes', (t) => {
  const bytes = Uint8Array.from([0xff, ...new TextEncoder().encode('é'.repeat(40)), 0xff]);
  const validator = new Utf8Validator();
  t.true(validator.update(bytes, 1, 41));
  t.true(validator.update(bytes, 41, bytes.length - 1));
  t.true(validator.finish());
  t.false(validator.update(bytes, bytes.length - 1));
  t.true(new Utf8Validator().update(bytes, 5, 5), 'an empty range is fine');
  for (const [start, end] of [[-1, 3], [3, 2], [0, bytes.length + 1], [0.5, 3]] as const) {
    t.throws(() => new Utf8Validator().update(bytes, start, end), { instanceOf: InvalidArgumentError });
  }
});

test('1 MiB of mixed text, valid and with one bad byte, in 64 KiB pieces', (t) => {
  const text = 'ASCII text, ünïcödé, κόσμε, 日本語, 😀🎉 — '.repeat(30_000);
  const bytes = new TextEncoder().encode(text).subarray(0, 1024 * 1024);
  // The cut may fall inside a character: keep only complete ones.
  let end = bytes.length;
  while ((bytes[end - 1]! & 0xc0) === 0x80 || bytes[end - 1]! >= 0xc0) end--;
  const valid = bytes.subarray(0, end);
  const cuts = range(1, 15).map((k) => k * 65536);
  t.true(isValidUtf8(valid));
  t.true(incrementalVerdict(valid, cuts));
  for (const badAt of [0, 65535, 65536, 500_001, valid.length - 1]) {
    const broken = valid.slice();
    broken[badAt] = 0xff;
    t.false(isValidUtf8(broken), `0xFF at ${badAt}`);
    const { updates } = feed(broken, cuts);
    const piece = Math.floor(badAt / 65536);
    t.deepEqual(updates, updates.map((_, i) => i < piece), `0xFF at ${badAt}: fails in piece ${piece}`);
  }
});

/** Bytes that are mostly valid characters, with stray, tricky and random bytes among them. */
const mostlyUtf8 = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).map((s) => [...new TextEncoder().encode(s)]) },
      { weight: 1, arbitrary: fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x90, 0x8f).map((b) => [b]) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => [b]) },
    ),
    { maxLength: 120 },
  )
  .map((parts) => Uint8Array.from(parts.flat()));

const cutsFor = (arbitrary: fc.Arbitrary<Uint8Array>) =>
  arbitrary.chain((bytes) =>
    fc.tuple(fc.constant(bytes), fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 6 }), fc.boolean()),
  );

test('property: for any bytes and any split, every update and finish agree with TextDecoder', (t) => {
  fc.assert(
    fc.property(cutsFor(fc.oneof(mostlyUtf8, fc.uint8Array({ maxLength: 80 }))), ([bytes, cuts, useRanges]) => {
      const failIndex = decoderFailIndex(bytes);
      const { updates, finish } = feed(bytes, cuts, useRanges);
      const points = [...new Set([0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length])].sort((a, b) => a - b);
      // Update p covers [points[p], points[p+1]): it must fail iff the first bad byte lies in it or before.
      const expected = updates.map((_, p) => failIndex < 0 || failIndex >= bytes.length || failIndex >= points[p + 1]!);
      return (
        JSON.stringify(updates) === JSON.stringify(expected) &&
        finish === decoderAccepts(bytes) &&
        isValidUtf8(bytes) === decoderAccepts(bytes)
      );
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: any string encoded to UTF-8 is valid, however it is split', (t) => {
  fc.assert(
    fc.property(
      cutsFor(fc.string({ unit: 'binary', maxLength: 200 }).map((s) => new TextEncoder().encode(s))),
      ([bytes, cuts, useRanges]) => isValidUtf8(bytes) && incrementalVerdict(bytes, cuts, useRanges),
    ),
    { numRuns: 2000 },
  );
  t.pass();
});
