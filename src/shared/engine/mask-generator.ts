import { randomFillSync } from 'node:crypto';
import { InvalidArgumentError } from './errors.ts';

/**
 * Source of masking keys for client frames, as Qt's `QMaskGenerator`: `nextMask()` returns a
 * uint32 whose big-endian bytes are the 4 key bytes. RFC 6455 section 5.3 wants every key fresh
 * and unpredictable, so a replacement should draw from a cryptographic source too; a fixed key
 * is only for tests.
 */
export interface MaskGenerator {
  /** Called once when a client socket is built. Returns whether seeding worked. */
  seed?(): boolean;
  /** A uint32 in 1..0xFFFFFFFF; 0 is drawn again by `writeMaskKey` (see there). */
  nextMask(): number;
}

/** Fills every element of `target` with random bits. */
export type RandomFill = (target: Uint32Array) => void;

const fillFromCrypto: RandomFill = (target) => {
  randomFillSync(target);
};

/** 4 KiB of keys per refill: one system call per 1024 frames instead of one per frame. */
const keysPerBatch = 1024;

/**
 * The built-in generator: keys from the operating system's CSPRNG (`crypto.randomFillSync`),
 * fetched a batch at a time and handed out one by one. A key of 0 is skipped, as Qt's is.
 */
export class DefaultMaskGenerator implements MaskGenerator {
  readonly #fill: RandomFill;
  /** Made on the first key: a server's sockets, which never mask, hold none. */
  #keys: Uint32Array | undefined;
  #next = keysPerBatch;

  /** `fill` replaces the random source; only tests should pass one. */
  constructor(fill: RandomFill = fillFromCrypto) {
    this.#fill = fill;
  }

  /** Nothing to seed: the operating system's generator needs none. */
  seed(): boolean {
    return true;
  }

  nextMask(): number {
    const keys = (this.#keys ??= new Uint32Array(keysPerBatch));
    // More than a batch of zeros in a row can only come from a broken source; stop rather than spin.
    for (let scanned = 0; scanned <= keys.length; scanned++) {
      if (this.#next === keys.length) {
        this.#fill(keys);
        this.#next = 0;
      }
      const key = keys[this.#next++]!;
      if (key !== 0) return key;
    }
    throw new InvalidArgumentError('DefaultMaskGenerator: the random source returned more than a batch of zeros in a row');
  }
}

/**
 * How many times `writeMaskKey` asks a generator again after it returned 0. A random uint32 is 0
 * once in 2^32 draws, so this many zeros in a row means the generator always returns 0.
 */
export const maxMaskDraws = 16;

/**
 * Write the next key of `generator` big-endian into `target[offset .. offset + 4)`. This is the
 * only place the engine takes masking keys from.
 *
 * Qt sends a frame unmasked when the generator returns 0. We never send an unmasked client frame
 * (RFC 6455 section 5.1: the server must fail such a connection), so a 0 is drawn again, up to
 * `maxMaskDraws` times in all, and then an `InvalidArgumentError` naming the generator is thrown.
 * A value that is not an integer in 0..0xFFFFFFFF is a bug in the generator that drawing again
 * would only hide: it throws `InvalidArgumentError` at once. Nothing is written when it throws.
 */
export function writeMaskKey(generator: MaskGenerator, target: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + 4 > target.length) {
    throw new InvalidArgumentError(`writeMaskKey: no room for 4 bytes at offset ${offset} of a ${target.length}-byte target`);
  }
  let key = 0;
  for (let draw = 0; draw < maxMaskDraws && key === 0; draw++) {
    key = generator.nextMask();
    if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) {
      throw new InvalidArgumentError(
        `mask generator ${generatorName(generator)} returned ${String(key)}, not an integer in 0..0xFFFFFFFF`,
      );
    }
  }
  if (key === 0) {
    throw new InvalidArgumentError(
      `mask generator ${generatorName(generator)} returned 0 ${maxMaskDraws} times in a row; a client frame is never sent unmasked`,
    );
  }
  target[offset] = key >>> 24;
  target[offset + 1] = key >>> 16;
  target[offset + 2] = key >>> 8;
  target[offset + 3] = key;
}

function generatorName(generator: MaskGenerator): string {
  const name = (generator as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : '(anonymous)';
}
