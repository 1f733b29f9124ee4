/**
 * The key exchange of the opening handshake (RFC 6455 sections 1.3, 4.1 and 4.2.2): the client
 * sends a random 16-byte nonce in base64, the server proves it read the request by answering
 * base64(SHA-1(key + GUID)).
 */

import { Buffer } from 'node:buffer';
// The namespace, not named imports: `hash` is missing before Node 20.12, and a named import of
// it would fail to link there.
import * as crypto from 'node:crypto';

/** The GUID of RFC 6455 section 1.3, appended to the key before hashing. */
export const WebSocketGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Node's one-shot digest (20.12 and later): no Hash object per handshake. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

/** The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` value. */
export function acceptKey(key: string): string {
  // The one-shot hashes a string's UTF-8, which is its Latin-1 when it is ASCII (a valid key is
  // base64): checked by length, not by the key's pattern again (the callers have checked that).
  if (oneShotHash !== undefined && Buffer.byteLength(key, 'utf8') === key.length) return oneShotHash('sha1', key + WebSocketGuid, 'base64');
  return crypto.createHash('sha1').update(key + WebSocketGuid, 'latin1').digest('base64');
}

/**
 * Whether `key` is base64 (RFC 4648 section 4) of exactly 16 bytes: 22 alphabet characters and
 * `==`. Non-zero pad bits are accepted (RFC 4648 3.5 lets a decoder take them, `ws` does), since
 * the value still decodes to 16 bytes and the accept hash covers the text as sent.
 */
export function isValidHandshakeKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** A fresh key: 16 random bytes in base64 (RFC 6455 4.1 asks for a nonce chosen at random). */
export function generateHandshakeKey(): string {
  return crypto.randomBytes(16).toString('base64');
}
