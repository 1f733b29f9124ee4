/**
 * One connection's outgoing data frames, written by the load generator itself rather than by the
 * engine: each message's frame (header, fresh masking key, payload) is built in place in a slab,
 * the payload written there by the codec and masked in place a 32-bit word at a time over one
 * word view of the whole slab, so that a message costs no allocation at all. Everything queued
 * during a turn leaves as one chunk (one write per turn per connection).
 *
 * The engine still frames what is not a data message (Close, Pong); see generator-connection.ts.
 */
import { Buffer } from 'node:buffer';
import { endianness } from 'node:os';
import type { MaskGenerator } from '../shared/engine/mask-generator.ts';
import type { PayloadCodec } from './payload.ts';

const LITTLE_ENDIAN = endianness() === 'LE';
const MIN_SLAB = 1024;
const MAX_SLAB = 64 * 1024;

/** Frame header size of a masked client frame carrying `length` payload bytes. */
export function maskedHeaderSize(length: number): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + 4;
}

export class MaskedFrameOutput {
  /** Bytes queued and not yet taken. */
  queued = 0;
  private readonly slabSize: number;
  private slab: Buffer | undefined;
  private words: Int32Array | undefined;
  private start = 0;
  private end = 0;
  /** Filled runs of earlier slabs, when a turn's frames did not fit in one. */
  private readonly earlier: Buffer[] = [];

  /** `typicalTurnBytes`: what one turn usually queues, to size the slab (allocated on first use). */
  constructor(typicalTurnBytes: number) {
    this.slabSize = Math.min(MAX_SLAB, Math.max(MIN_SLAB, 2 * typicalTurnBytes));
  }

  /** Queues message `seq` of connection `conn` as one frame, masked with a fresh key from `maskGenerator`. */
  writeMessage(codec: PayloadCodec, conn: number, seq: number, sendMicros: number, maskGenerator: MaskGenerator): void {
    const length = codec.lengthOf(conn, seq);
    const headerSize = maskedHeaderSize(length);
    const size = headerSize + length;
    const slab = this.reserve(size);
    let at = this.end;
    slab[at] = codec.binary ? 0x82 : 0x81;
    if (length < 126) {
      slab[at + 1] = 0x80 | length;
      at += 2;
    } else if (length < 0x10000) {
      slab[at + 1] = 0x80 | 126;
      slab.writeUInt16BE(length, at + 2);
      at += 4;
    } else {
      slab[at + 1] = 0x80 | 127;
      slab.writeUInt32BE(Math.floor(length / 0x100000000), at + 2);
      slab.writeUInt32BE(length >>> 0, at + 6);
      at += 10;
    }
    let key = maskGenerator.nextMask();
    // RFC 6455 never allows an unmasked client frame; a zero key would be one in effect.
    while (key === 0) key = maskGenerator.nextMask();
    slab.writeUInt32BE(key >>> 0, at);
    at += 4;
    codec.write(slab, at, conn, seq, sendMicros);
    this.mask(slab, at, at + length, key);
    this.end += size;
    this.queued += size;
  }

  /** Everything queued since the last take, in order (usually one chunk); empty when nothing is. */
  take(into: Uint8Array[]): void {
    for (const run of this.earlier) into.push(run);
    this.earlier.length = 0;
    if (this.end > this.start) {
      into.push(this.slab!.subarray(this.start, this.end));
      this.start = this.end;
    }
    this.queued = 0;
  }

  /** The socket wrote everything taken so far: later frames may reuse the slab from its start. */
  recycle(): void {
    if (this.queued === 0 && this.earlier.length === 0) this.start = this.end = 0;
  }

  private reserve(size: number): Buffer {
    if (this.slab !== undefined && this.end + size <= this.slab.length) return this.slab;
    if (this.slab !== undefined && this.end > this.start) this.earlier.push(this.slab.subarray(this.start, this.end));
    // Bytes already handed to the socket still reference the old slab, so it is never reused.
    this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabSize, size + 3) & ~3);
    this.words = new Int32Array(this.slab.buffer, this.slab.byteOffset, this.slab.length >>> 2);
    this.start = this.end = 0;
    return this.slab;
  }

  /** XORs `slab[from, to)` with the key, its first byte meeting the key's first (big-endian) byte. */
  private mask(slab: Buffer, from: number, to: number, key: number): void {
    let i = from;
    // Bytes up to the first word boundary, then words, then the tail.
    for (; i < to && (i & 3) !== 0; i++) slab[i]! ^= (key >>> (24 - 8 * ((i - from) & 3))) & 0xff;
    const firstWord = i >>> 2;
    const lastWord = to >>> 2;
    if (LITTLE_ENDIAN && lastWord > firstWord) {
      // The key rotated so that each word's memory bytes meet the key bytes in wire order.
      const phase = (i - from) & 3;
      const rotated = phase === 0 ? key : ((key << (8 * phase)) | (key >>> (32 - 8 * phase))) >>> 0;
      const word = ((rotated >>> 24) | ((rotated >>> 8) & 0xff00) | ((rotated << 8) & 0xff0000) | (rotated << 24)) | 0;
      const words = this.words!;
      for (let w = firstWord; w < lastWord; w++) words[w]! ^= word;
      i = lastWord << 2;
    }
    for (; i < to; i++) slab[i]! ^= (key >>> (24 - 8 * ((i - from) & 3))) & 0xff;
  }
}
