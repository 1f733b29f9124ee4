import test from 'ava';
import {
  DefaultMaskGenerator,
  maxMaskDraws,
  writeMaskKey,
  type MaskGenerator,
  type RandomFill,
} from '../../src/shared/engine/mask-generator.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

test('the default generator returns uint32 keys, never 0, not all equal, and seeds', (t) => {
  const generator = new DefaultMaskGenerator();
  t.true(generator.seed());
  const seen = new Set<number>();
  const draws = 20_000; // spans ~20 refills of 1024 keys
  let highBitSet = 0;
  for (let i = 0; i < draws; i++) {
    const key = generator.nextMask();
    if (!Number.isInteger(key) || key <= 0 || key > 0xffffffff) {
      t.fail(`draw ${i} gave ${key}`);
      return;
    }
    if (key >= 0x80000000) highBitSet++;
    seen.add(key);
  }
  // 20k random uint32 almost never collide (expected ~0.05 pairs); a stuck or short source would.
  t.true(seen.size > draws - 10, `${seen.size} distinct keys`);
  // The top bit should be set about half the time: a generator clipped to int31 would give 0.
  t.true(highBitSet > draws * 0.4 && highBitSet < draws * 0.6, `${highBitSet} keys with the top bit set`);
});

test('two default generators produce different sequences', (t) => {
  const a = new DefaultMaskGenerator();
  const b = new DefaultMaskGenerator();
  const sa = Array.from({ length: 8 }, () => a.nextMask());
  const sb = Array.from({ length: 8 }, () => b.nextMask());
  t.notDeepEqual(sa, sb);
});

test('zeros from the random source are skipped and batches are refilled', (t) => {
  let fills = 0;
  // First batch: all zeros except the last key; later batches: zeros at even positions.
  const fill: RandomFill = (target) => {
    fills++;
    for (let i = 0; i < target.length; i++) {
      target[i] = fills === 1 ? (i === target.length - 1 ? 0xdeadbeef : 0) : i % 2 === 0 ? 0 : fills * 0x10000 + i;
    }
  };
  const generator = new DefaultMaskGenerator(fill);
  t.is(fills, 0, 'no fill before the first draw');
  t.is(generator.nextMask(), 0xdeadbeef);
  t.is(fills, 1);
  const batch = 1024;
  const next: number[] = [];
  for (let i = 0; i < batch; i++) next.push(generator.nextMask());
  t.false(next.includes(0));
  t.is(next[0], 2 * 0x10000 + 1);
  t.is(next[batch / 2 - 1], 2 * 0x10000 + batch - 1);
  t.is(next[batch / 2], 3 * 0x10000 + 1, 'the second batch was used up and a third fetched');
  t.is(fills, 3, 'a refill only when a batch is used up');
});

test('a random source that only yields zeros makes nextMask throw instead of spinning', (t) => {
  const generator = new DefaultMaskGenerator((target) => target.fill(0));
  t.throws(() => generator.nextMask(), { instanceOf: InvalidArgumentError, message: /zeros/ });
});

test('writeMaskKey writes the key big-endian at the offset and nothing else', (t) => {
  const generator: MaskGenerator = { nextMask: () => 0x37fa213d };
  const target = new Uint8Array(8).fill(0xee);
  writeMaskKey(generator, target, 2);
  t.deepEqual([...target], [0xee, 0xee, 0x37, 0xfa, 0x21, 0x3d, 0xee, 0xee]);
});

test('writeMaskKey uses a custom generator for every key', (t) => {
  class CountingGenerator implements MaskGenerator {
    count = 0;
    nextMask(): number {
      return ++this.count * 0x01010101;
    }
  }
  const generator = new CountingGenerator();
  const target = new Uint8Array(4);
  for (let n = 1; n <= 3; n++) {
    writeMaskKey(generator, target, 0);
    t.deepEqual([...target], [n, n, n, n]);
  }
  t.is(generator.count, 3);
});

test('writeMaskKey draws again when a generator returns 0', (t) => {
  const values = [0, 0, 0, 0xffffffff];
  const generator: MaskGenerator = { nextMask: () => values.shift()! };
  const target = new Uint8Array(4);
  writeMaskKey(generator, target, 0);
  t.deepEqual([...target], [0xff, 0xff, 0xff, 0xff]);
  t.is(values.length, 0);
});

test('writeMaskKey throws InvalidArgumentError naming a generator that always returns 0, and writes nothing', (t) => {
  class ZeroGenerator implements MaskGenerator {
    calls = 0;
    nextMask(): number {
      this.calls++;
      return 0;
    }
  }
  const generator = new ZeroGenerator();
  const target = new Uint8Array(4).fill(9);
  t.throws(() => writeMaskKey(generator, target, 0), { instanceOf: InvalidArgumentError, message: /ZeroGenerator.*0/ });
  t.is(generator.calls, maxMaskDraws);
  t.deepEqual([...target], [9, 9, 9, 9]);
});

test('writeMaskKey throws InvalidArgumentError at once for a value that is not a uint32', (t) => {
  for (const bad of [-1, 0x100000000, 1.5, Number.NaN, Infinity]) {
    let calls = 0;
    const generator: MaskGenerator = {
      nextMask: () => {
        calls++;
        return bad;
      },
    };
    const target = new Uint8Array(4);
    t.throws(() => writeMaskKey(generator, target, 0), { instanceOf: InvalidArgumentError }, String(bad));
    t.is(calls, 1);
    t.deepEqual([...target], [0, 0, 0, 0]);
  }
  const notANumber: MaskGenerator = { nextMask: () => '7' as unknown as number };
  t.throws(() => writeMaskKey(notANumber, new Uint8Array(4), 0), { instanceOf: InvalidArgumentError });
});

test('writeMaskKey throws InvalidArgumentError when the target has no room, before drawing', (t) => {
  let calls = 0;
  const generator: MaskGenerator = { nextMask: () => ++calls };
  t.throws(() => writeMaskKey(generator, new Uint8Array(5), 2), { instanceOf: InvalidArgumentError });
  t.throws(() => writeMaskKey(generator, new Uint8Array(5), -1), { instanceOf: InvalidArgumentError });
  t.is(calls, 0);
});
