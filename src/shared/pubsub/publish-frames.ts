/**
 * Frames published messages once, into memory every thread can read: slabs of
 * SharedArrayBuffer. A frame posted to another thread is the same bytes there (structured clone
 * shares a SharedArrayBuffer), so a message crosses to any number of threads without a copy, and
 * each thread queues those bytes to its subscribers. A full slab is never reused (frames handed
 * out still point into it); it goes when the last of them has been written.
 */
import { Buffer } from 'node:buffer';
import { serverMessageSize, writeServerMessage } from '../engine/message-frames.ts';
import { frameHeaderSize, writeFrameHeader } from '../engine/frame-codec.ts';
import { OpCode } from '../engine/opcode.ts';
import type { CompressedFrames } from '../engine/extension.ts';
import { compressedWindowBits, compressForMany, type DeflateSettings } from '../engine/permessage-deflate.ts';
import type { PubSubCounters } from './pubsub-stats.ts';

/** RSV1: the first frame of a compressed message. */
const Rsv1 = 0x40;

// Small, like the write slab: a subscriber whose peer stopped reading keeps the slab of its
// last write until it reads or is dropped.
const SlabSize = 64 * 1024;
/** A message whose frames are larger than this gets a SharedArrayBuffer of its own. */
const OwnBufferAbove = 32 * 1024;

export class PublishFrameBuilder {
  #slab: Buffer | undefined;
  #slabEnd = 0;
  readonly #counters: PubSubCounters;

  constructor(counters: PubSubCounters) {
    this.#counters = counters;
  }

  /** The message as server frames of at most `frameSize` payload bytes each (a string is a text message). */
  build(message: string | Uint8Array, frameSize: number): Uint8Array {
    let frame: Uint8Array;
    if (typeof message === 'string') {
      const length = Buffer.byteLength(message, 'utf8');
      if (length <= frameSize) {
        // One frame: the text is encoded straight behind its header, no buffer in between.
        const headerSize = frameHeaderSize(length, false);
        const target = this.#reserve(headerSize + length);
        const at = this.#slabEnd;
        const payloadAt = writeFrameHeader(target, at, true, 0, OpCode.Text, length, false);
        target.write(message, payloadAt, length, 'utf8');
        frame = this.#commit(target, at, headerSize + length);
      } else {
        frame = this.#buildBytes(OpCode.Text, Buffer.from(message, 'utf8'), frameSize);
      }
    } else {
      frame = this.#buildBytes(OpCode.Binary, message, frameSize);
    }
    return this.#counted(frame);
  }

  /**
   * The message compressed once (permessage-deflate, `deflate` the server's settings) and framed,
   * for every subscriber whose connection agreed compression; undefined when the server offers
   * none, or the message is below the threshold or does not shrink.
   */
  buildCompressed(message: string | Uint8Array, frameSize: number, deflate: DeflateSettings | null): CompressedFrames | undefined {
    if (deflate === null) return undefined;
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    const compressed = compressForMany(payload, deflate);
    if (compressed === undefined) return undefined;
    const frames = this.#buildBytes(typeof message === 'string' ? OpCode.Text : OpCode.Binary, compressed, frameSize, Rsv1);
    return { frames: this.#counted(frames), windowBits: compressedWindowBits(deflate) };
  }

  /** A message's frames, built: counted once, with the payload copied into them. */
  #counted(frames: Uint8Array): Uint8Array {
    const counters = this.#counters;
    counters.framesBuilt++;
    counters.frameBytes += frames.length;
    counters.bytesCopied += frames.length;
    return frames;
  }

  /** Frames built elsewhere (another server, over Redis), copied into shareable memory. */
  copy(frames: Uint8Array): Uint8Array {
    const target = this.#reserve(frames.length);
    const at = target === this.#slab ? this.#slabEnd : 0;
    target.set(frames, at);
    this.#counters.bytesCopied += frames.length;
    return this.#commit(target, at, frames.length);
  }

  #buildBytes(opcode: number, payload: Uint8Array, frameSize: number, rsv = 0): Uint8Array {
    const size = serverMessageSize(payload.length, frameSize);
    const target = this.#reserve(size);
    const at = target === this.#slab ? this.#slabEnd : 0;
    writeServerMessage(target, at, opcode, payload, frameSize, rsv);
    return this.#commit(target, at, size);
  }

  /** Where `size` bytes go: the slab's free part, or a buffer of their own. */
  #reserve(size: number): Buffer {
    if (size > OwnBufferAbove) return Buffer.from(new SharedArrayBuffer(size));
    if (this.#slab === undefined || this.#slabEnd + size > SlabSize) {
      this.#slab = Buffer.from(new SharedArrayBuffer(SlabSize));
      this.#slabEnd = 0;
    }
    return this.#slab;
  }

  #commit(target: Buffer, at: number, size: number): Uint8Array {
    if (target === this.#slab) this.#slabEnd = at + size;
    return target.subarray(at, at + size);
  }
}
