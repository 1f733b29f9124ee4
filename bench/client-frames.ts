/**
 * The benchmarks' client frames: one whole frame of `payload`, masked as RFC 6455 has every
 * client frame masked. The load generators write them; the servers unmask them.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { frameHeaderSize, writeFrameHeader } from '../src/shared/engine/frame-codec.ts';
import { maskInto } from '../src/shared/engine/mask.ts';

/** A masking key of zeros: the frame's payload reads as it is (a Close, a request to the GC handler). */
export const ZeroKey: Uint8Array = new Uint8Array(4);

export function clientFrame(opcode: number, payload: Uint8Array, key: Uint8Array = randomBytes(4), rsv = 0): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderSize(payload.length, true) + payload.length);
  const keyAt = writeFrameHeader(frame, 0, true, rsv, opcode, payload.length, true);
  frame.set(key, keyAt);
  maskInto(payload, frame, keyAt + 4, key);
  return frame;
}
