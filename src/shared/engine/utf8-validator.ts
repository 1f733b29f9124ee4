import { isUtf8 } from 'node:buffer';
import { InvalidArgumentError } from './errors.ts';

/*
 * UTF-8 validation as RFC 3629 defines it (no overlong forms, no surrogates U+D800..U+DFFF,
 * nothing above U+10FFFF), which is what RFC 6455 section 8.1 requires of text messages.
 *
 * The bulk of every chunk goes to node:buffer's isUtf8 (simdutf, many GB/s). Only the bytes
 * around chunk edges, where a character may be split between two fragments, and chunks too
 * short to be worth a native call, go through the byte state machine below. Its bounds on the
 * byte after a lead byte are those of the WHATWG UTF-8 decoder, which is what makes it fail at
 * the first byte that no valid text could continue (for example 0xF4 0x90, 0xED 0xA0, 0xE0 0x80).
 */

/**
 * Below this many bytes the state machine beats a subarray plus a native call
 * (the crossover measured on Node 26 was around this size for ASCII and mixed text).
 */
const nativeMinLength = 32;

/**
 * State machine state packed in one small integer: bits 0-1 the continuation bytes still
 * expected, bits 2-9 the lowest and bits 10-17 the highest value allowed for the next one.
 */
const ready = (0x80 << 2) | (0xbf << 10);
const failed = -1;

function pack(needed: number, lower: number, upper: number): number {
  return needed | (lower << 2) | (upper << 10);
}

/** Run the state machine over `bytes[start, end)` from `state`; the state after them, or `failed`. */
function scan(bytes: Uint8Array, start: number, end: number, state: number): number {
  let needed = state & 3;
  let lower = (state >>> 2) & 0xff;
  let upper = (state >>> 10) & 0xff;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (needed === 0) {
      if (b < 0x80) continue;
      if (b < 0xc2) return failed; // a continuation byte, or the lead of an overlong 2-byte form
      if (b < 0xe0) {
        needed = 1;
      } else if (b < 0xf0) {
        needed = 2;
        if (b === 0xe0) lower = 0xa0; // below: overlong 3-byte form
        else if (b === 0xed) upper = 0x9f; // above: a surrogate
      } else if (b < 0xf5) {
        needed = 3;
        if (b === 0xf0) lower = 0x90; // below: overlong 4-byte form
        else if (b === 0xf4) upper = 0x8f; // above: beyond U+10FFFF
      } else {
        return failed; // 0xF5..0xFF: beyond U+10FFFF, or the 5- and 6-byte forms RFC 3629 removed
      }
    } else {
      if (b < lower || b > upper) return failed;
      lower = 0x80;
      upper = 0xbf;
      needed--;
    }
  }
  return pack(needed, lower, upper);
}

/**
 * The end of the last complete character in `bytes[start, end)`, `start` being a character
 * boundary: `end` unless the last 1..3 bytes are the start of a character that goes on past
 * `end`. Where the bytes are invalid anyway it returns `end`, so that they reach isUtf8.
 */
function completeEnd(bytes: Uint8Array, start: number, end: number): number {
  const stop = Math.max(start, end - 3);
  for (let k = end - 1; k >= stop; k--) {
    const b = bytes[k]!;
    if (b < 0x80) return end;
    if (b >= 0xc0) {
      const length = b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 : 1;
      return k + length > end ? k : end;
    }
  }
  return end;
}

function nativeIsUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  return isUtf8(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
}

/** Whether `bytes` is, as a whole, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return bytes.length < nativeMinLength ? scan(bytes, 0, bytes.length, ready) === ready : isUtf8(bytes);
}

/**
 * Validates a text message fed in pieces (the payloads of its fragments, or parts of them, as
 * they arrive). A character split between pieces is fine. `update` returns false at the first
 * piece after which the bytes seen can no longer begin valid UTF-8, so a bad message is
 * rejected before the rest of it arrives; from then on it keeps returning false until `reset`.
 */
export class Utf8Validator {
  #state = ready;

  /** Feed `bytes[start, end)`. False once the bytes so far cannot be the start of valid UTF-8. */
  update(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length)) {
      throw new InvalidArgumentError(`Utf8Validator.update: [${start}, ${end}) is not a range of ${bytes.length} bytes`);
    }
    let state = this.#state;
    if (state === failed) return false;
    let i = start;
    const needed = state & 3;
    if (needed !== 0) {
      // Finish the character the previous piece left open.
      const pendingEnd = Math.min(end, i + needed);
      state = scan(bytes, i, pendingEnd, state);
      i = pendingEnd;
      if (state === failed || (state & 3) !== 0) {
        this.#state = state;
        return state !== failed;
      }
    }
    if (end - i >= nativeMinLength) {
      const boundary = completeEnd(bytes, i, end);
      if (!nativeIsUtf8(bytes, i, boundary)) {
        this.#state = failed;
        return false;
      }
      i = boundary;
    }
    state = scan(bytes, i, end, state);
    this.#state = state;
    return state !== failed;
  }

  /**
   * True iff everything fed so far is valid UTF-8 that ends on a character boundary: call it at
   * the end of a message. It does not change the state; after it returned true the validator is
   * as good as new, so `reset` is only needed after a failure (or to drop a message half way).
   */
  finish(): boolean {
    return this.#state === ready;
  }

  /** Forget everything fed so far. */
  reset(): void {
    this.#state = ready;
  }
}
