import { InvalidArgumentError } from './errors.ts';

/**
 * RFC 6455 section 5.3 masking: byte i of a payload is XORed with key byte (i mod 4). The same
 * operation masks and unmasks.
 *
 * Both functions work a 32-bit word at a time over the 4-byte-aligned middle of the bytes and
 * byte by byte only at the unaligned head and tail: a byte loop is 10x slower on large payloads
 * (bench/engine-primitives.ts). The word is the key rotated to the phase at the first aligned byte and
 * laid out in the machine's byte order, so each word's bytes meet the key bytes in wire order.
 */

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Below this many bytes an unrolled byte loop wins: the word path costs a Uint32Array view object and
 * up to 6 single-byte steps for head and tail (the crossover measured on Node 26 was 64..96 bytes).
 */
const wordPathMinLength = 64;

/**
 * XOR `data` in place with the 4-byte `key`, the first byte of `data` meeting key byte
 * `keyOffset & 3`. A frame payload that arrives in several chunks is unmasked chunk by chunk by
 * passing, as `keyOffset`, the number of payload bytes already unmasked. Throws
 * InvalidArgumentError when `key` is not 4 bytes long.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset: number): void {
  checkKey(key);
  maskRange(data, 0, data.length, key, keyOffset & 3);
}

/**
 * Write `source` masked with `key` (from key byte 0) into `target` at `targetOffset`; `source` is
 * left untouched. This is how a client frame's payload goes out. Views on the same 4-byte phase
 * are masked word by word in one pass; others are copied, then masked in place (as fast: below).
 * Throws InvalidArgumentError when the bytes do not fit in `target` at `targetOffset`.
 */
export function maskInto(source: Uint8Array, target: Uint8Array, targetOffset: number, key: Uint8Array): void {
  checkKey(key);
  const length = source.length;
  if (!Number.isInteger(targetOffset) || targetOffset < 0 || targetOffset + length > target.length) {
    throw new InvalidArgumentError(
      `maskInto: ${length} bytes do not fit at offset ${targetOffset} of a ${target.length}-byte target`,
    );
  }
  const targetStart = target.byteOffset + targetOffset;
  // Overlapping views need memmove semantics, which only a copy first gives; a word loop also
  // needs both views on the same 4-byte phase, and the usual case is not (a payload behind a 6-,
  // 8- or 14-byte header). There: copy (a memcpy, cheap next to the XOR: measured 10 GB/s either
  // way on 1 MiB) and mask the copy in place.
  if (source.buffer === target.buffer || (length >= wordPathMinLength && ((source.byteOffset ^ targetStart) & 3) !== 0)) {
    target.set(source, targetOffset);
    maskRange(target, targetOffset, targetOffset + length, key, 0);
    return;
  }
  if (length < wordPathMinLength) {
    const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
    let i = 0;
    for (; i + 4 <= length; i += 4) {
      target[targetOffset + i] = source[i]! ^ k0;
      target[targetOffset + i + 1] = source[i + 1]! ^ k1;
      target[targetOffset + i + 2] = source[i + 2]! ^ k2;
      target[targetOffset + i + 3] = source[i + 3]! ^ k3;
    }
    for (; i < length; i++) target[targetOffset + i] = source[i]! ^ key[i & 3]!;
    return;
  }
  const head = (4 - (source.byteOffset & 3)) & 3;
  let i = 0;
  for (; i < head; i++) target[targetOffset + i] = source[i]! ^ key[i & 3]!;
  const words = (length - head) >>> 2;
  const word = keyWord(key, head & 3);
  const from = new Uint32Array(source.buffer, source.byteOffset + head, words);
  const to = new Uint32Array(target.buffer, targetStart + head, words);
  for (let w = 0; w < words; w++) to[w] = from[w]! ^ word;
  i += words << 2;
  for (; i < length; i++) target[targetOffset + i] = source[i]! ^ key[i & 3]!;
}

/** XOR `data[start, end)` in place, `data[start]` meeting key byte `phase` (0..3). */
function maskRange(data: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  // Key byte for data[i] is key[(i + shift) & 3].
  const shift = phase - start;
  let i = start;
  if (end - start >= wordPathMinLength) {
    const alignedStart = start + ((4 - ((data.byteOffset + start) & 3)) & 3);
    for (; i < alignedStart; i++) data[i] = data[i]! ^ key[(i + shift) & 3]!;
    const words = (end - i) >>> 2;
    const word = keyWord(key, (i + shift) & 3);
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words << 2;
  } else {
    // Short payloads (the common small message): four bytes per step with the key in locals.
    const k0 = key[phase]!, k1 = key[(phase + 1) & 3]!, k2 = key[(phase + 2) & 3]!, k3 = key[(phase + 3) & 3]!;
    for (; i + 4 <= end; i += 4) {
      data[i] = data[i]! ^ k0;
      data[i + 1] = data[i + 1]! ^ k1;
      data[i + 2] = data[i + 2]! ^ k2;
      data[i + 3] = data[i + 3]! ^ k3;
    }
  }
  for (; i < end; i++) data[i] = data[i]! ^ key[(i + shift) & 3]!;
}

/** The key as a machine word whose memory bytes are key[phase], key[phase + 1], ... (mod 4). */
function keyWord(key: Uint8Array, phase: number): number {
  const b0 = key[phase]!, b1 = key[(phase + 1) & 3]!, b2 = key[(phase + 2) & 3]!, b3 = key[(phase + 3) & 3]!;
  return littleEndian
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 4) throw new InvalidArgumentError(`a masking key has 4 bytes, not ${key.length}`);
}
