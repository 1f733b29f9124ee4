/**
 * A whole data message as a server sends it (unmasked), cut into frames of at most `frameSize`
 * payload bytes: the bytes a published message is framed into once, for every subscriber.
 */
import { createFrameHeader, frameHeaderSize, readFrameHeader, writeFrameHeader } from './frame-codec.ts';
import { OpCode } from './opcode.ts';

/** Wire bytes of a server message of `length` payload bytes. */
export function serverMessageSize(length: number, frameSize: number): number {
  if (length <= frameSize) return frameHeaderSize(length, false) + length;
  let size = 0;
  for (let start = 0; start < length; start += frameSize) {
    const part = Math.min(frameSize, length - start);
    size += frameHeaderSize(part, false) + part;
  }
  return size;
}

/**
 * Writes the message at `target[at]` (room for `serverMessageSize` bytes); returns where it ends.
 * `rsv`: the RSV bits of its first frame (0x40 for a compressed message).
 */
export function writeServerMessage(target: Uint8Array, at: number, opcode: number, payload: Uint8Array, frameSize: number, rsv = 0): number {
  const length = payload.length;
  let offset = at;
  for (let start = 0; start === 0 || start < length; start += frameSize) {
    const end = Math.min(start + frameSize, length);
    offset = writeFrameHeader(target, offset, end === length, start === 0 ? rsv : 0, start === 0 ? opcode : OpCode.Continuation, end - start, false);
    target.set(payload.subarray(start, end), offset);
    offset += end - start;
  }
  return offset;
}

/**
 * Whether `bytes` is exactly one whole data message as `writeServerMessage` writes it: unmasked
 * frames, no RSV bits, a Text or Binary first frame, continuations after it, FIN on the last
 * only. Checked on frames from outside the process (Redis) before they reach a socket's stream.
 */
export function isServerMessage(bytes: Uint8Array): boolean {
  const header = createFrameHeader();
  let at = 0;
  let first = true;
  while (at < bytes.length) {
    if (!readFrameHeader(bytes, at, bytes.length, header)) return false;
    if (header.masked || header.rsv !== 0 || header.lengthOverflow) return false;
    const expected = first ? header.opcode === OpCode.Text || header.opcode === OpCode.Binary : header.opcode === OpCode.Continuation;
    if (!expected) return false;
    at += header.headerSize + header.payloadLength;
    if (at > bytes.length) return false;
    first = false;
    if (header.fin) return at === bytes.length;
  }
  return false;
}
