/**
 * Raw DEFLATE (RFC 1951) run synchronously over a zlib stream that keeps its state between calls,
 * for permessage-deflate's context takeover.
 *
 * Node's public synchronous API (`deflateRawSync`, `inflateRawSync`, `_processChunk` without a
 * callback) closes the zlib context after each call, so it cannot keep an LZ77 window from one
 * message to the next; the asynchronous streams can, but run on the libuv pool shared by every
 * thread of the process. We drive the stream's native handle with `writeSync`, which is what
 * Node's own synchronous functions do internally, and stop producing output the moment it passes
 * a limit, so that a decompression bomb costs at most `limit + 1` bytes.
 */
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

/** The native zlib context behind a Node zlib stream (`stream._handle`). */
interface NativeZlib {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
}

interface ZlibInternals {
  _handle: NativeZlib | null;
  _writeState: Uint32Array;
}

/** Output written per native call; one buffer per thread, copied out once a call is done. */
const ScratchSize = 64 * 1024;
let scratch: Buffer | null = null;

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
/** The stream's own output buffer is never used (we pass ours), so it gets the smallest size. */
const MinChunk = zlib.constants.Z_MIN_CHUNK;

/** Thrown by `RawZlib.process` when the output passes the caller's limit. */
export class OutputLimitExceeded extends Error {
  override readonly name = 'OutputLimitExceeded';
}

/** Thrown by `RawZlib.process` when zlib refuses its input (corrupt data, a distance too far back). */
export class ZlibDataError extends Error {
  override readonly name = 'ZlibDataError';
}

function ignore(): void {}

export class RawZlib {
  readonly #stream: zlib.DeflateRaw | zlib.InflateRaw;
  readonly #state: Uint32Array;
  #handle: NativeZlib | null;
  #inputLeft = 0;

  private constructor(stream: zlib.DeflateRaw | zlib.InflateRaw) {
    this.#stream = stream;
    // zlib reports a data error both by destroying the stream (seen below) and with an 'error'
    // event a tick later, which must not go unheard.
    stream.on('error', ignore);
    const internals = stream as unknown as ZlibInternals;
    this.#handle = internals._handle;
    this.#state = internals._writeState;
    if (this.#handle === null || typeof this.#handle.writeSync !== 'function' || !(this.#state instanceof Uint32Array)) {
      throw new Error('This Node.js zlib has no synchronous native handle; permessage-deflate needs one');
    }
  }

  /**
   * A compressor. `windowBits` 8 is run as 9, as Node does: zlib's deflate never emits a
   * distance beyond its window minus 262 bytes (MAX_DIST in deflate.h), that is 250 bytes with a
   * 512-byte window, so its output stays within a 256-byte window and any inflater with
   * windowBits 8 reads it.
   */
  static deflater(windowBits: number, level: number, memLevel: number): RawZlib {
    return new RawZlib(zlib.createDeflateRaw({ windowBits: Math.max(windowBits, 9), level, memLevel, chunkSize: MinChunk }));
  }

  /** A decompressor; a larger window than the peer's is always correct, so 8 is read with 9. */
  static inflater(windowBits: number): RawZlib {
    return new RawZlib(zlib.createInflateRaw({ windowBits: Math.max(windowBits, 9), chunkSize: MinChunk }));
  }

  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * Feeds `input` with Z_SYNC_FLUSH and appends what comes out to `output`; returns the new
   * output total. Throws OutputLimitExceeded as soon as the total would pass `limit` (the zlib
   * context is then mid-stream: reset or close it), ZlibDataError for input zlib refuses (the
   * context is then closed).
   */
  process(input: Uint8Array, output: Buffer[], total: number, limit: number): number {
    const handle = this.#handle;
    if (handle === null) throw new ZlibDataError('The zlib context is closed');
    const state = this.#state;
    const out = (scratch ??= Buffer.allocUnsafe(ScratchSize));
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      // One byte of room past the limit, so that passing it is seen without inflating further.
      const room = Math.min(ScratchSize, limit - total + 1);
      handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, out, 0, room);
      if (this.#stream.destroyed) {
        this.#handle = null;
        throw new ZlibDataError('Invalid compressed data');
      }
      const availOut = state[0]!;
      const availIn = state[1]!;
      const produced = room - availOut;
      inOff += inLen - availIn;
      inLen = availIn;
      if (produced > 0) {
        total += produced;
        if (total > limit) throw new OutputLimitExceeded(`more than ${limit} bytes`);
        output.push(Buffer.from(out.subarray(0, produced)));
      }
      // Room left over: zlib has flushed everything it had. Input left over means the stream
      // ended (a block with BFINAL set) before it.
      if (availOut !== 0) {
        this.#inputLeft = inLen;
        return total;
      }
    }
  }

  /** The last `process` stopped at the end of the DEFLATE stream, with input unread. */
  get streamEnded(): boolean {
    return this.#inputLeft > 0;
  }

  /** Forgets the LZ77 window (no context takeover); keeps the allocated context. */
  reset(): void {
    this.#handle?.reset();
  }

  close(): void {
    if (this.#handle === null) return;
    this.#handle = null;
    this.#stream.close();
  }
}
