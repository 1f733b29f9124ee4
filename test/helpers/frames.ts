import { Buffer } from 'node:buffer';
import type { EngineHandler } from '../../src/shared/engine/engine-types.ts';
import type { WebSocketError } from '../../src/shared/engine/errors.ts';

export interface RawFrame {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Uint8Array | string;
  /** A 4-byte masking key, or null for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Force a length encoding (7, 16 or 64 bits) regardless of the payload size. */
  lengthBits?: 7 | 16 | 64;
  /** Override the declared length (to lie about it). */
  declaredLength?: bigint;
}

/**
 * Builds a frame byte by byte, independently of the engine's own writer, so that tests check the
 * engine against the RFC's layout rather than against itself.
 */
export function rawFrame(spec: RawFrame): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : Buffer.from(spec.payload ?? []);
  const length = spec.declaredLength ?? BigInt(payload.length);
  const bits = spec.lengthBits ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const bytes: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode];
  const maskBit = spec.mask ? 0x80 : 0;
  if (bits === 7) bytes.push(maskBit | Number(length));
  else if (bits === 16) bytes.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  else {
    bytes.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) bytes.push(Number((length >> shift) & 0xffn));
  }
  if (spec.mask) bytes.push(...spec.mask);
  const masked = Buffer.from(payload);
  if (spec.mask) for (let i = 0; i < masked.length; i++) masked[i]! ^= spec.mask[i % 4]!;
  return Buffer.concat([Buffer.from(bytes), masked]);
}

/** A frame as a client sends it: masked with a fixed key. */
export function clientFrame(spec: Omit<RawFrame, 'mask'>): Buffer {
  return rawFrame({ ...spec, mask: Uint8Array.of(0x37, 0xfa, 0x21, 0x3d) });
}

export type EngineEvent =
  | ['text', string]
  | ['binary', string]
  | ['textFrame', string, boolean]
  | ['binaryFrame', string, boolean]
  | ['ping', string]
  | ['pong', string]
  | ['error', string, number | undefined]
  | ['closed', number, string, boolean];

/** An EngineHandler that records every event as plain data (binary as hex) for comparison. */
export function recorder(options: { frames?: boolean } = {}): EngineHandler & { events: EngineEvent[]; errors: WebSocketError[] } {
  const events: EngineEvent[] = [];
  const errors: WebSocketError[] = [];
  const handler: EngineHandler & { events: EngineEvent[]; errors: WebSocketError[] } = {
    events,
    errors,
    textMessage: (text) => events.push(['text', text]),
    binaryMessage: (data) => events.push(['binary', Buffer.from(data).toString('hex')]),
    pingReceived: (payload) => events.push(['ping', Buffer.from(payload).toString('hex')]),
    pong: (_elapsed, payload) => events.push(['pong', Buffer.from(payload).toString('hex')]),
    error: (error) => {
      errors.push(error);
      events.push(['error', error.kind, error.closeCode]);
    },
    closed: (code, reason, clean) => events.push(['closed', code, reason, clean]),
  };
  if (options.frames) {
    handler.textFrame = (text, last) => events.push(['textFrame', text, last]);
    handler.binaryFrame = (data, last) => events.push(['binaryFrame', Buffer.from(data).toString('hex'), last]);
  }
  return handler;
}

/** Concatenates everything the engine queued for the wire. */
export function output(engine: { takeOutput(): Uint8Array[] }): Buffer {
  return Buffer.concat(engine.takeOutput());
}

export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes a byte stream of frames (unmasking them), independently of the engine. Stops at an incomplete frame. */
export function decodeFrames(bytes: Uint8Array): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    let length = b1 & 0x7f;
    let offset = at + 2;
    const extended = length === 126 ? 2 : length === 127 ? 8 : 0;
    if (offset + extended > bytes.length) break;
    if (extended > 0) {
      length = 0;
      for (let i = 0; i < extended; i++) length = length * 256 + bytes[offset + i]!;
      offset += extended;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? bytes.subarray(offset, offset + 4) : null;
    if (masked) offset += 4;
    if (offset + length > bytes.length) break;
    const payload = Buffer.from(bytes.subarray(offset, offset + length));
    if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload });
    at = offset + length;
  }
  return frames;
}
