import { NoBytes } from './bytes.ts';
import { CloseCode, isValidWireCloseCode } from './close-code.ts';
import { InvalidArgumentError } from './errors.ts';
import { isValidUtf8 } from './utf8-validator.ts';

/** RFC 6455 5.5: a control payload is at most 125 bytes, 2 of which hold the close code. */
export const MaxCloseReasonBytes = 123;
export const MaxControlPayload = 125;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes `text` as UTF-8 cut to at most `maxBytes` without splitting a character: Qt cuts at a
 * byte offset and can send a reason that is not valid UTF-8, which the peer must then reject.
 */
export function utf8Truncated(text: string, maxBytes: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export function encodeClosePayload(code: number, reason: string): Uint8Array {
  if (code === CloseCode.MissingStatusCode) return new Uint8Array(0);
  // The usual Close has no reason: no encoding, one buffer (every connection closes once).
  const reasonBytes = reason === '' ? NoBytes : utf8Truncated(reason, MaxCloseReasonBytes);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

export type ParsedClosePayload =
  | { ok: true; code: number; reason: string }
  | { ok: false; code: CloseCode; message: string };

/** Reads a received Close payload (RFC 6455 5.5.1 and 7.4). */
export function parseClosePayload(payload: Uint8Array): ParsedClosePayload {
  if (payload.length === 0) return { ok: true, code: CloseCode.MissingStatusCode, reason: '' };
  if (payload.length === 1) {
    return { ok: false, code: CloseCode.ProtocolError, message: 'Close frame payload of 1 byte: a close code needs 2' };
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    return { ok: false, code: CloseCode.ProtocolError, message: `Invalid close code ${code} received` };
  }
  if (payload.length === 2) return { ok: true, code, reason: '' };
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    return { ok: false, code: CloseCode.WrongDatatype, message: 'Close reason is not valid UTF-8' };
  }
  return { ok: true, code, reason: decoder.decode(reasonBytes) };
}

/**
 * The rule for a code we send: a valid wire code, or 1005 (a Close with no payload) without a
 * reason. Anything else throws InvalidArgumentError (Qt puts it on the wire as given).
 */
export function checkCloseToSend(code: number, reason: string): void {
  if (typeof reason !== 'string') throw new InvalidArgumentError('reason must be a string');
  if (code === CloseCode.MissingStatusCode) {
    if (reason !== '') throw new InvalidArgumentError('A Close without a code (1005) cannot carry a reason');
    return;
  }
  if (!isValidWireCloseCode(code)) {
    throw new InvalidArgumentError(`Close code ${code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999`);
  }
}
