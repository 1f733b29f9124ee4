import { Buffer } from 'node:buffer';

/**
 * A Buffer view of the same bytes (no copy): payloads reach listeners as Buffers whatever
 * produced them (a socket read, a structured clone from another thread, a caller's Uint8Array).
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** No bytes: one empty array for every place that holds or sends none. */
export const NoBytes = new Uint8Array(0);
