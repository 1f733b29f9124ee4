import { Buffer } from 'node:buffer';
import { frameHeaderSize, writeFrameHeader } from './frame-codec.ts';
import { applyMask, maskInto } from './mask.ts';
import { DefaultMaskGenerator, writeMaskKey, type MaskGenerator } from './mask-generator.ts';
import { OpCode } from './opcode.ts';

/** Frames whose header and payload fit in this many bytes are copied into the shared slab. */
export const SmallFrameLimit = 16 * 1024;
const SlabSize = 64 * 1024;

/**
 * What a frame may do with the payload it is given, past the slab's small frames (which are
 * always copied). `Copy`: nothing, it is the caller's (a copy goes out). `Share`: send it as it
 * is, unchanged, and the caller leaves it alone until written (a masked frame still copies).
 * `Own`: the bytes are the writer's from now on (the engine made them): sent as they are, and
 * masked in place when the frame is masked.
 */
export const PayloadUse = { Copy: 0, Share: 1, Own: 2 } as const;
export type PayloadUse = (typeof PayloadUse)[keyof typeof PayloadUse];

/**
 * The slab every writer of this thread packs its small frames into, and where its free part
 * starts. One per thread rather than one per connection: an idle connection then holds no
 * buffer at all, and a slab is only as many as the bytes in flight need. A full slab is never
 * reused (bytes handed out still reference it); it goes when the last of them has been written.
 */
let sharedSlab: Buffer | undefined;
let sharedSlabEnd = 0;

/**
 * The last view made for a run of frames, and of what: the subscribers of one publish have the
 * same run (the same frames object, the same span), so they share one view (and one write
 * buffer) instead of making one each.
 */
let lastRunView: Buffer | undefined;
let lastRunBytes: Uint8Array | undefined;
let lastRunStart = 0;
let lastRunEnd = 0;

/** Where every writer of this thread draws its next mask key (see #nextMaskKey). */
const maskKeyScratch = new Uint8Array(4);

/** What a writer holds with nothing taken yet: never pushed to (frozen, so a push would throw). */
const NoChunks: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/**
 * Turns outgoing messages into frame bytes, queued until the I/O layer takes them. Small frames
 * are packed side by side into the thread's slab, so that a turn's worth of one connection's
 * messages leaves as one chunk and one write (design.md: one socket write per message is where
 * ws spends its time); a large payload goes out as it is or in a buffer of its own (PayloadUse),
 * and frames built for many sockets are queued where they are (writeBuiltFrame).
 */
export class FrameWriter {
  #chunks: Uint8Array[] = NoChunks;
  /**
   * This writer's current run of contiguous bytes, `[#runStart, #runEnd)` of `#runBytes` (the
   * end may pass the view's own length: the run lies in the memory under it). Either the
   * thread's slab, which this writer packs its own small frames into, or built frames from
   * elsewhere, which are queued where they are and grow the run while each starts where the
   * last ended.
   */
  #runBytes: Uint8Array | undefined;
  #runStart = 0;
  #runEnd = 0;
  #queued = 0;
  readonly #masked: boolean;
  #maskGenerator: MaskGenerator | undefined;

  /** `maskGenerator` undefined: the built-in one, made when the first key is drawn. */
  constructor(masked: boolean, maskGenerator?: MaskGenerator) {
    this.#masked = masked;
    this.#maskGenerator = maskGenerator;
  }

  get maskGenerator(): MaskGenerator {
    return (this.#maskGenerator ??= new DefaultMaskGenerator());
  }

  /** undefined restores the built-in generator. */
  set maskGenerator(generator: MaskGenerator | undefined) {
    this.#maskGenerator = generator;
  }

  /** Bytes queued and not yet taken. */
  get length(): number {
    return this.#queued;
  }

  /** Writes one message as frames of at most `frameSize` payload bytes; `rsv` goes on the first. */
  writeMessage(opcode: number, payload: Uint8Array, rsv: number, frameSize: number, use: PayloadUse = PayloadUse.Copy): void {
    const total = payload.length;
    if (total <= frameSize) {
      this.writeFrame(true, rsv, opcode, payload, 0, total, use);
      return;
    }
    // Uncompressed text is cut between characters: legal or not to cut one (it is), Qt 6.4
    // fails such a frame with 1007.
    const text = opcode === OpCode.Text && rsv === 0;
    for (let start = 0; start < total;) {
      const end = text ? characterBoundary(payload, start, Math.min(start + frameSize, total)) : Math.min(start + frameSize, total);
      this.writeFrame(end === total, start === 0 ? rsv : 0, start === 0 ? opcode : OpCode.Continuation, payload, start, end, use);
      start = end;
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
    const slab = this.#reserve(headerSize + byteLength);
    const at = this.#runEnd;
    let payloadAt = writeFrameHeader(slab, at, true, 0, OpCode.Text, byteLength, this.#masked);
    if (this.#masked) {
      const key = this.#nextMaskKey(slab, payloadAt);
      payloadAt += 4;
      slab.write(text, payloadAt, byteLength, 'utf8');
      applyMask(slab.subarray(payloadAt, payloadAt + byteLength), key, 0);
    } else {
      slab.write(text, payloadAt, byteLength, 'utf8');
    }
    this.#commit(headerSize + byteLength);
    return byteLength;
  }

  /** Writes one frame carrying `payload[start, end)`. */
  writeFrame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array, start: number, end: number, use: PayloadUse = PayloadUse.Copy): void {
    const length = end - start;
    const headerSize = frameHeaderSize(length, this.#masked);
    if (headerSize + length <= SmallFrameLimit) {
      const slab = this.#reserve(headerSize + length);
      this.#writeFrameAt(slab, this.#runEnd, fin, rsv, opcode, payload, start, end);
      this.#commit(headerSize + length);
      return;
    }
    this.#closeRun();
    if (use === PayloadUse.Own || (use === PayloadUse.Share && !this.#masked)) {
      // The payload goes out as it is, behind a header of its own: no copy, and no buffer as
      // large as the frame made (a large message costs a collection sooner or later).
      const header = Buffer.allocUnsafe(headerSize);
      const keyAt = writeFrameHeader(header, 0, fin, rsv, opcode, length, this.#masked);
      const body = payload.subarray(start, end);
      if (this.#masked) applyMask(body, this.#nextMaskKey(header, keyAt), 0);
      this.#queue(header);
      this.#queue(body);
      this.#queued += headerSize + length;
      return;
    }
    // A frame of its own, payload copied in: the caller may reuse its buffer as soon as the send
    // returns (Qt copies too, and so does the owner-to-worker path), and the copy is one memcpy.
    const frame = Buffer.allocUnsafe(headerSize + length);
    this.#writeFrameAt(frame, 0, fin, rsv, opcode, payload, start, end);
    this.#queue(frame);
    this.#queued += headerSize + length;
  }

  /**
   * Queues frame bytes built elsewhere (a published message, framed once for all its
   * subscribers), where they are: no copy. The publish builder packs a turn's messages side by
   * side, so a subscriber's frames of one turn usually make one run and leave in one write, the
   * same bytes every other subscriber writes. The bytes must not change afterwards.
   */
  writeBuiltFrame(frame: Uint8Array): void {
    const run = this.#runBytes;
    if (run !== undefined && frame.buffer === run.buffer && frame.byteOffset === run.byteOffset + this.#runEnd) {
      this.#runEnd += frame.length;
    } else {
      this.#closeRun();
      this.#runBytes = frame;
      this.#runStart = 0;
      this.#runEnd = frame.length;
    }
    this.#queued += frame.length;
  }

  /** Everything queued since the last call, in order. */
  take(): Uint8Array[] {
    this.#closeRun();
    const chunks = this.#chunks;
    this.#chunks = NoChunks;
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
   * Draws a key into the thread's scratch array and copies it into the header, so that masking
   * allocates no view per frame (the load generator masks every message). The caller masks with
   * it before anything else can draw one.
   */
  #nextMaskKey(target: Uint8Array, at: number): Uint8Array {
    const key = maskKeyScratch;
    writeMaskKey(this.maskGenerator, key, 0);
    target.set(key, at);
    return key;
  }

  /**
   * The slab to write `size` bytes into, at `#runEnd`. This writer's run goes on where it ended
   * if nobody wrote after it in the same slab; otherwise a new run starts at the slab's free part.
   */
  #reserve(size: number): Buffer {
    if (sharedSlab === undefined || sharedSlabEnd + size > SlabSize) {
      sharedSlab = Buffer.allocUnsafe(SlabSize);
      sharedSlabEnd = 0;
    }
    if (this.#runBytes !== sharedSlab || this.#runEnd !== sharedSlabEnd) {
      this.#closeRun();
      this.#runBytes = sharedSlab;
      this.#runStart = sharedSlabEnd;
      this.#runEnd = sharedSlabEnd;
    }
    return sharedSlab;
  }

  #commit(size: number): void {
    this.#runEnd += size;
    sharedSlabEnd += size;
    this.#queued += size;
  }

  /** Most takes hold one chunk: a one-element array then, not an empty one grown by a push. */
  #queue(chunk: Uint8Array): void {
    if (this.#chunks === NoChunks) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
  }

  #closeRun(): void {
    const run = this.#runBytes;
    if (run !== undefined && this.#runEnd > this.#runStart) {
      const start = this.#runStart;
      const end = this.#runEnd;
      this.#queue(start === 0 && end === run.length ? run : runView(run, start, end));
    }
    this.#runBytes = undefined;
    this.#runStart = 0;
    this.#runEnd = 0;
  }
}

/** `[start, end)` of the memory under `run`, as the view the previous writer made of it when it is the same. */
function runView(run: Uint8Array, start: number, end: number): Buffer {
  if (run === lastRunBytes && start === lastRunStart && end === lastRunEnd) return lastRunView!;
  lastRunBytes = run;
  lastRunStart = start;
  lastRunEnd = end;
  return (lastRunView = Buffer.from(run.buffer, run.byteOffset + start, end - start));
}

/**
 * The last UTF-8 character boundary at or before `end` and after `start` (a continuation byte is
 * 10xxxxxx); for a frame smaller than one character, the first boundary after `end`.
 */
function characterBoundary(utf8: Uint8Array, start: number, end: number): number {
  if (end >= utf8.length) return utf8.length;
  let cut = end;
  while (cut > start && (utf8[cut]! & 0xc0) === 0x80) cut--;
  if (cut > start) return cut;
  cut = end;
  while (cut < utf8.length && (utf8[cut]! & 0xc0) === 0x80) cut++;
  return cut;
}
