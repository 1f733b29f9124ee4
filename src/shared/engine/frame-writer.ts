import { Buffer } from 'node:buffer';
import { frameHeaderSize, writeFrameHeader } from './frame-codec.ts';
import { applyMask, maskInto } from './mask.ts';
import { writeMaskKey, type MaskGenerator } from './mask-generator.ts';
import { OpCode } from './opcode.ts';

/** Frames whose header and payload fit in this many bytes are copied into the shared slab. */
const SmallFrameLimit = 16 * 1024;
const SlabSize = 64 * 1024;

/**
 * Turns outgoing messages into frame bytes, queued until the I/O layer takes them. Small frames
 * are packed side by side into one slab so that a turn's worth of messages leaves in one write
 * (design.md: one socket write per message is where ws spends its time); a large payload is
 * copied (and masked, in the client role) into a buffer of its own.
 */
export class FrameWriter {
  #chunks: Uint8Array[] = [];
  #slab: Buffer = Buffer.allocUnsafe(SlabSize);
  #slabStart = 0;
  #slabEnd = 0;
  #queued = 0;
  readonly #masked: boolean;
  readonly #maskKey = new Uint8Array(4);
  maskGenerator: MaskGenerator;

  constructor(masked: boolean, maskGenerator: MaskGenerator) {
    this.#masked = masked;
    this.maskGenerator = maskGenerator;
  }

  /** Bytes queued and not yet taken. */
  get length(): number {
    return this.#queued;
  }

  /** Writes one message as frames of at most `frameSize` payload bytes; `rsv` goes on the first. */
  writeMessage(opcode: number, payload: Uint8Array, rsv: number, frameSize: number): void {
    const total = payload.length;
    if (total <= frameSize) {
      this.writeFrame(true, rsv, opcode, payload, 0, total);
      return;
    }
    for (let start = 0; start < total; start += frameSize) {
      const end = Math.min(start + frameSize, total);
      this.writeFrame(end === total, start === 0 ? rsv : 0, start === 0 ? opcode : OpCode.Continuation, payload, start, end);
    }
  }

  /**
   * Writes a text message straight from the string into the slab when it fits in one small frame,
   * saving the intermediate buffer. Returns the payload size, or -1 when the caller must encode.
   */
  tryWriteSmallText(text: string, frameSize: number): number {
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this bound avoids measuring
    // strings that cannot fit.
    if (text.length * 3 + 14 > SmallFrameLimit) return -1;
    const byteLength = Buffer.byteLength(text, 'utf8');
    if (byteLength > frameSize) return -1;
    const headerSize = frameHeaderSize(byteLength, this.#masked);
    const at = this.#reserve(headerSize + byteLength);
    let payloadAt = writeFrameHeader(this.#slab, at, true, 0, OpCode.Text, byteLength, this.#masked);
    if (this.#masked) {
      const key = this.#nextMaskKey(this.#slab, payloadAt);
      payloadAt += 4;
      this.#slab.write(text, payloadAt, byteLength, 'utf8');
      applyMask(this.#slab.subarray(payloadAt, payloadAt + byteLength), key, 0);
    } else {
      this.#slab.write(text, payloadAt, byteLength, 'utf8');
    }
    this.#commit(headerSize + byteLength);
    return byteLength;
  }

  /** Writes one frame carrying `payload[start, end)`. */
  writeFrame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array, start: number, end: number): void {
    const length = end - start;
    const headerSize = frameHeaderSize(length, this.#masked);
    if (headerSize + length <= SmallFrameLimit) {
      const at = this.#reserve(headerSize + length);
      this.#writeFrameAt(this.#slab, at, fin, rsv, opcode, payload, start, end);
      this.#commit(headerSize + length);
      return;
    }
    this.#closeSlabRun();
    // A frame of its own, payload copied in: the caller may reuse its buffer as soon as the send
    // returns (Qt copies too, and so does the owner-to-worker path), and the copy is one memcpy.
    const frame = Buffer.allocUnsafe(headerSize + length);
    this.#writeFrameAt(frame, 0, fin, rsv, opcode, payload, start, end);
    this.#chunks.push(frame);
    this.#queued += headerSize + length;
  }

  /** Everything queued since the last call, in order. */
  take(): Uint8Array[] {
    this.#closeSlabRun();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#queued = 0;
    return chunks;
  }

  #writeFrameAt(target: Uint8Array, at: number, fin: boolean, rsv: number, opcode: number, payload: Uint8Array, start: number, end: number): void {
    let payloadAt = writeFrameHeader(target, at, fin, rsv, opcode, end - start, this.#masked);
    if (this.#masked) {
      const key = this.#nextMaskKey(target, payloadAt);
      payloadAt += 4;
      maskInto(payload.subarray(start, end), target, payloadAt, key);
    } else {
      target.set(payload.subarray(start, end), payloadAt);
    }
  }

  /**
   * Draws a key into a scratch array reused for every frame and copies it into the header, so
   * that masking allocates no view per frame (the load generator masks every message).
   */
  #nextMaskKey(target: Uint8Array, at: number): Uint8Array {
    writeMaskKey(this.maskGenerator, this.#maskKey, 0);
    target.set(this.#maskKey, at);
    return this.#maskKey;
  }

  /** Returns the slab offset where `size` bytes may be written, starting a new slab if needed. */
  #reserve(size: number): number {
    if (this.#slabEnd + size > this.#slab.length) {
      this.#closeSlabRun();
      // Bytes already handed out still reference the old slab, so it is never reused.
      this.#slab = Buffer.allocUnsafe(SlabSize);
      this.#slabStart = 0;
      this.#slabEnd = 0;
    }
    return this.#slabEnd;
  }

  #commit(size: number): void {
    this.#slabEnd += size;
    this.#queued += size;
  }

  #closeSlabRun(): void {
    if (this.#slabEnd > this.#slabStart) {
      this.#chunks.push(this.#slab.subarray(this.#slabStart, this.#slabEnd));
      this.#slabStart = this.#slabEnd;
    }
  }
}
