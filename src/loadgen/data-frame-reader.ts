/**
 * The load generator's read path for what an echo sends back nearly always: whole, unmasked,
 * unfragmented text and binary frames. Each read is scanned in place and every such frame's
 * payload handed to the sink as a range of the read buffer, so that a reply costs no string and
 * no buffer. A frame cut by the end of a read is carried (copied) to the next.
 *
 * The first frame of any other kind (a control frame, a fragment, reserved bits, a masked or
 * oversized frame) and everything after it go to the engine instead, for the rest of the
 * connection: the engine then sees the stream from a frame boundary on, as if from the start.
 */
import { Buffer } from 'node:buffer';

/** Larger frames go to the engine, which enforces its message size limit. */
const MAX_FAST_PAYLOAD = 16 * 1024 * 1024;
/** The header is not complete yet. */
const NEED_MORE = -1;
/** Not a frame this reader takes. */
const NOT_OURS = -2;

export interface DataFrameSink {
  /** One whole data message: `source[start, end)`, text when `text`. */
  dataFrame(source: Buffer, start: number, end: number, text: boolean): void;
}

/**
 * Total size (header and payload) of the frame starting at `buf[at]`, given `available` bytes;
 * NEED_MORE when its header is cut, NOT_OURS when it is not a whole unmasked data frame.
 */
function frameSize(buf: Buffer, at: number, available: number): number {
  if (available < 2) return NEED_MORE;
  const b0 = buf[at]!;
  const b1 = buf[at + 1]!;
  // FIN set, no reserved bits, text or binary; unmasked.
  if ((b0 !== 0x81 && b0 !== 0x82) || (b1 & 0x80) !== 0) return NOT_OURS;
  const length7 = b1 & 0x7f;
  if (length7 < 126) return 2 + length7;
  if (length7 === 126) return available < 4 ? NEED_MORE : 4 + buf.readUInt16BE(at + 2);
  if (available < 10) return NEED_MORE;
  const length = buf.readUInt32BE(at + 2) * 0x100000000 + buf.readUInt32BE(at + 6);
  return length > MAX_FAST_PAYLOAD ? NOT_OURS : 10 + length;
}

function headerSize(buf: Buffer, at: number): number {
  const length7 = buf[at + 1]! & 0x7f;
  return length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
}

export class DataFrameReader {
  /** A frame cut by the end of the last read: its first `carried` bytes. */
  private carry: Buffer = Buffer.alloc(0);
  private carried = 0;

  /**
   * Hands every whole data frame of `chunk[0, length)` to `sink`. Returns undefined when all
   * bytes were taken, else the bytes from the first frame this reader does not take on, for the
   * engine (a view of `chunk`, or a copy).
   */
  feed(chunk: Buffer, length: number, sink: DataFrameSink): Buffer | undefined {
    let at = 0;
    if (this.carried > 0) {
      at = this.completeCarried(chunk, length, sink);
      if (at < 0) {
        const rest = Buffer.concat([this.carry.subarray(0, this.carried), chunk.subarray(-1 - at, length)]);
        this.carried = 0;
        return rest;
      }
    }
    while (at < length) {
      const size = frameSize(chunk, at, length - at);
      if (size === NOT_OURS) return chunk.subarray(at, length);
      if (size === NEED_MORE || at + size > length) {
        this.keep(chunk, at, length);
        return undefined;
      }
      sink.dataFrame(chunk, at + headerSize(chunk, at), at + size, chunk[at] === 0x81);
      at += size;
    }
    return undefined;
  }

  /**
   * Adds to the carried frame from `chunk`; delivers it when whole. Returns where the rest of
   * `chunk` starts, or -1 - that position when the carried bytes turned out to start a frame this
   * reader does not take (they stay carried, for the engine).
   */
  private completeCarried(chunk: Buffer, length: number, sink: DataFrameSink): number {
    let at = 0;
    let size = frameSize(this.carry, 0, this.carried);
    // The header itself was cut: add bytes one at a time until it is whole (at most 9).
    while (size === NEED_MORE && at < length) {
      this.append(chunk, at, at + 1);
      at++;
      size = frameSize(this.carry, 0, this.carried);
    }
    if (size === NOT_OURS) return -1 - at;
    if (size === NEED_MORE) return at;
    const take = Math.min(size - this.carried, length - at);
    this.append(chunk, at, at + take);
    at += take;
    if (this.carried === size) {
      this.carried = 0;
      sink.dataFrame(this.carry, headerSize(this.carry, 0), size, this.carry[0] === 0x81);
    }
    return at;
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    this.carried = 0;
    this.append(chunk, from, to);
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const needed = this.carried + (to - from);
    if (needed > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.carry.length, 256));
      this.carry.copy(grown, 0, 0, this.carried);
      this.carry = grown;
    }
    chunk.copy(this.carry, this.carried, from, to);
    this.carried = needed;
  }
}
