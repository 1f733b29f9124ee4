/**
 * RFC 6455 section 5.2 frame headers: reading one from bytes that may be incomplete, and writing
 * the minimal header for a payload length. Payloads are handled by the engine, which knows where
 * the bytes live; this file only knows the header layout.
 */

export const FinBit = 0x80;
export const Rsv1Bit = 0x40;
export const RsvBits = 0x70;
export const MaskBit = 0x80;

/** The largest header: 2 bytes, 8 bytes of 64-bit length, 4 bytes of masking key. */
export const MaxFrameHeaderSize = 14;

/** One frame header as read from the wire. Reused by the parser, so copy out what must outlive a call. */
export interface FrameHeader {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Declared payload length. May exceed 2^53 imprecisely; only compared against limits. */
  payloadLength: number;
  /** True when a 64-bit length had its most significant bit set (RFC 6455 5.2: a protocol error). */
  lengthOverflow: boolean;
  /** Byte offset of the 4-byte masking key in the parsed buffer, or -1 when unmasked. */
  maskOffset: number;
  /** Total header size in bytes. */
  headerSize: number;
}

export function createFrameHeader(): FrameHeader {
  return { fin: false, rsv: 0, opcode: 0, masked: false, payloadLength: 0, lengthOverflow: false, maskOffset: -1, headerSize: 0 };
}

/**
 * Reads a header from `bytes[start, end)` into `header`. Returns false when the bytes end before the
 * header does; `header` is then unspecified.
 */
export function readFrameHeader(bytes: Uint8Array, start: number, end: number, header: FrameHeader): boolean {
  if (end - start < 2) return false;
  const b0 = bytes[start]!;
  const b1 = bytes[start + 1]!;
  const masked = (b1 & MaskBit) !== 0;
  const shortLength = b1 & 0x7f;
  let size = 2;
  let payloadLength = shortLength;
  let lengthOverflow = false;
  if (shortLength === 126) {
    size = 4;
    if (end - start < size) return false;
    payloadLength = (bytes[start + 2]! << 8) | bytes[start + 3]!;
  } else if (shortLength === 127) {
    size = 10;
    if (end - start < size) return false;
    const high = ((bytes[start + 2]! << 24) | (bytes[start + 3]! << 16) | (bytes[start + 4]! << 8) | bytes[start + 5]!) >>> 0;
    const low = ((bytes[start + 6]! << 24) | (bytes[start + 7]! << 16) | (bytes[start + 8]! << 8) | bytes[start + 9]!) >>> 0;
    lengthOverflow = high >= 0x80000000;
    payloadLength = high * 0x100000000 + low;
  }
  if (masked) size += 4;
  if (end - start < size) return false;
  header.fin = (b0 & FinBit) !== 0;
  header.rsv = b0 & RsvBits;
  header.opcode = b0 & 0x0f;
  header.masked = masked;
  header.payloadLength = payloadLength;
  header.lengthOverflow = lengthOverflow;
  header.maskOffset = masked ? start + size - 4 : -1;
  header.headerSize = size;
  return true;
}

/** Size of the minimal header for a payload of `payloadLength` bytes. */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes the minimal header (without the masking key, which follows it when `masked`) at
 * `target[offset]`. Returns the offset where the masking key, or else the payload, goes.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  payloadLength: number,
  masked: boolean,
): number {
  target[offset] = (fin ? FinBit : 0) | rsv | opcode;
  const maskFlag = masked ? MaskBit : 0;
  if (payloadLength < 126) {
    target[offset + 1] = maskFlag | payloadLength;
    return offset + 2;
  }
  if (payloadLength < 0x10000) {
    target[offset + 1] = maskFlag | 126;
    target[offset + 2] = payloadLength >>> 8;
    target[offset + 3] = payloadLength & 0xff;
    return offset + 4;
  }
  target[offset + 1] = maskFlag | 127;
  const high = Math.floor(payloadLength / 0x100000000);
  const low = payloadLength >>> 0;
  target[offset + 2] = high >>> 24;
  target[offset + 3] = (high >>> 16) & 0xff;
  target[offset + 4] = (high >>> 8) & 0xff;
  target[offset + 5] = high & 0xff;
  target[offset + 6] = low >>> 24;
  target[offset + 7] = (low >>> 16) & 0xff;
  target[offset + 8] = (low >>> 8) & 0xff;
  target[offset + 9] = low & 0xff;
  return offset + 10;
}
