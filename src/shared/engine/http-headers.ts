/**
 * The HTTP/1.1 pieces both opening-handshake parsers share (RFC 9112 sections 2-5, RFC 9110
 * section 5): an incremental reader that cuts a header block into lines, header-field parsing,
 * token and comma-list helpers, and the character rules we use when we write headers ourselves.
 *
 * Line endings are strict on purpose: every line must end in CRLF. A bare LF or a bare CR makes
 * the block malformed (RFC 9112 2.2 lets a recipient accept a bare LF, but two parsers that
 * disagree on where a header ends are how requests get smuggled past a proxy, and no WebSocket
 * client sends one). Header bytes are decoded as ISO-8859-1, so every byte maps to one
 * character and obs-text survives unchanged.
 */

import { Buffer } from 'node:buffer';
import { asBuffer, NoBytes } from './bytes.ts';
import { InvalidArgumentError } from './errors.ts';

const LF = 0x0a;
const CR = 0x0d;

/** tchar of RFC 9110 5.6.2: visible ASCII except the separators `"(),/:;<=>?@[\]{}`. */
const TOKEN_CHAR: boolean[] = (() => {
  const table: boolean[] = new Array(128).fill(false);
  for (let c = 0x21; c <= 0x7e; c++) table[c] = true;
  for (const c of '"(),/:;<=>?@[\\]{}') table[c.charCodeAt(0)] = false;
  return table;
})();

/** Whether `s` is an RFC 9110 token: one or more tchar. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || !TOKEN_CHAR[c]) return false;
  }
  return true;
}

/**
 * Whether `s` may be a field value on the wire: HTAB, SP, VCHAR and obs-text (0x80-0xFF) only,
 * the rule Node's own HTTP stack applies. CR, LF, NUL and the other controls are refused because
 * they end or corrupt the header; characters above U+00FF have no single-byte encoding.
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x09) continue;
    if (c < 0x20 || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/**
 * Strips optional whitespace (SP and HTAB, RFC 9110 5.6.3) from both ends of `s` from index
 * `from` on, in one slice (none when there is nothing to cut).
 */
export function trimOws(s: string, from = 0): string {
  let start = from;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * The elements of a comma-separated list (RFC 9110 5.6.1), trimmed, in order. Empty elements
 * are dropped, as a recipient must. Only for lists whose elements cannot contain a comma
 * (tokens); `Sec-WebSocket-Extensions` has quoted strings and its own parser.
 */
export function parseCommaList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const element = trimOws(part);
    if (element.length > 0) out.push(element);
  }
  return out;
}

/**
 * Whether a comma-separated list holds `token`, ignoring ASCII case. Read in place, element by
 * element, with nothing split or lowercased: every upgrade request asks it twice (Upgrade,
 * Connection).
 */
export function listHasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (let start = 0; start <= value.length;) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    let first = start;
    let last = end;
    while (first < last && isOws(value.charCodeAt(first))) first++;
    while (last > first && isOws(value.charCodeAt(last - 1))) last--;
    if (last - first === token.length && equalsIgnoringAsciiCase(value, first, token)) return true;
    start = end + 1;
  }
  return false;
}

/** Whether `text` holds `token` at `at`, ASCII letters compared without case (tokens are ASCII). */
function equalsIgnoringAsciiCase(text: string, at: number, token: string): boolean {
  for (let i = 0; i < token.length; i++) {
    const a = text.charCodeAt(at + i);
    const b = token.charCodeAt(i);
    if (a === b) continue;
    // Setting bit 5 lowercases an ASCII letter, and only a letter may differ in case.
    const lower = a | 0x20;
    if (lower !== (b | 0x20) || lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}

/** A header field split into name and value, or why the line is not one. */
export type HeaderLineResult = { ok: true; name: string; value: string } | { ok: false; reason: string };

/**
 * Parses one field line (RFC 9112 5): `field-name ":" OWS field-value OWS`. Refuses what the
 * RFC tells a server to refuse: whitespace before the colon (5.1), a line that starts with
 * whitespace, which is obs-fold or a continuation of nothing (5.2), and control characters in
 * the value (RFC 9110 5.5; CR never reaches here, the line reader rejects it).
 */
export function parseHeaderLine(line: string): HeaderLineResult {
  if (line.length > 0 && isOws(line.charCodeAt(0))) {
    return { ok: false, reason: 'Header line starts with whitespace (obs-fold is not accepted)' };
  }
  const colon = line.indexOf(':');
  if (colon === -1) return { ok: false, reason: 'Header line without a colon' };
  const name = line.slice(0, colon);
  if (!isToken(name)) {
    return { ok: false, reason: `Invalid header name ${JSON.stringify(name)}` };
  }
  // Cut from the line once, without its OWS.
  const value = trimOws(line, colon + 1);
  if (!isFieldValue(value)) {
    return { ok: false, reason: `Invalid character in the value of header ${name}` };
  }
  return { ok: true, name, value };
}

/**
 * Lowercase name → value, repeated fields joined with ", " (RFC 9110 5.3). Own properties only:
 * a field named `__proto__` is set with defineProperty, so that it is data, not a prototype
 * change (the others by assignment, which keeps the record a fast object).
 */
export function headerRecord(rawHeaders: readonly (readonly [string, string])[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of rawHeaders) {
    const key = name.toLowerCase();
    const joined = Object.hasOwn(record, key) ? `${record[key]}, ${value}` : value;
    if (key === '__proto__') Object.defineProperty(record, key, { value: joined, enumerable: true, writable: true, configurable: true });
    else record[key] = joined;
  }
  return record;
}

/** Whether header name `name` is `lowercaseName` in any case (lowercased only when the lengths match). */
export function isHeaderName(name: string, lowercaseName: string): boolean {
  return name.length === lowercaseName.length && (name === lowercaseName || name.toLowerCase() === lowercaseName);
}

/** A header's value from a record built by `headerRecord`, never from Object.prototype. */
export function getHeader(record: Record<string, string>, lowercaseName: string): string | undefined {
  return Object.hasOwn(record, lowercaseName) ? record[lowercaseName] : undefined;
}

/** How many field lines carry `lowercaseName`. */
export function countHeader(rawHeaders: readonly (readonly [string, string])[], lowercaseName: string): number {
  let n = 0;
  for (const [name] of rawHeaders) if (isHeaderName(name, lowercaseName)) n++;
  return n;
}

/** Where an incremental header-block read stands after a chunk. */
export type HeaderBlockStatus =
  | { kind: 'incomplete' }
  /** The empty line arrived; `rest` is what followed it in the last chunk (a view, not a copy). */
  | { kind: 'complete'; rest: Uint8Array }
  | { kind: 'tooLarge' }
  | { kind: 'malformed'; reason: string };

/**
 * Cuts an HTTP header block into lines as bytes arrive, in any chunking. Each byte is looked at
 * once: only the unfinished line is kept between chunks, so the cost stays linear even when the
 * peer sends one byte at a time. Lines are appended to `lines` (without CRLF); lines delivered
 * before a non-incomplete status are always within the size limit and precede the problem, so a
 * caller that checks them first reports the first fault in stream order, whatever the chunking.
 */
export class HeaderBlockReader {
  /** The start line and the field lines read so far, in order. */
  readonly lines: string[] = [];
  readonly #maxSize: number;
  readonly #skipLeadingEmptyLines: boolean;
  /** Bytes of the block that ended in a line already taken out. */
  #consumed = 0;
  /** The unfinished line; made the first time a line spans two reads. */
  #pending: Uint8Array = NoBytes;
  #pendingLength = 0;
  #done = false;

  /**
   * @param maxSize the most bytes the whole block may take, final empty line included.
   * @param skipLeadingEmptyLines ignore CRLFs before the start line (RFC 9112 2.2 asks servers
   *   to ignore at least one, left over from a previous request).
   */
  constructor(maxSize: number, skipLeadingEmptyLines: boolean) {
    this.#maxSize = maxSize;
    this.#skipLeadingEmptyLines = skipLeadingEmptyLines;
  }

  feed(chunk: Uint8Array): HeaderBlockStatus {
    if (this.#done) throw new InvalidArgumentError('The header block is already complete');
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) break;
      const lineBytes = this.#pendingLength + (lf - start);
      if (this.#consumed + lineBytes + 1 > this.#maxSize) return this.#finish({ kind: 'tooLarge' });
      const line = this.#takeLine(chunk, start, lf);
      start = lf + 1;
      this.#consumed += lineBytes + 1;
      if (line === undefined) return this.#finish({ kind: 'malformed', reason: 'Line not terminated by CRLF' });
      if (line.length === 0) {
        if (this.lines.length === 0) {
          if (this.#skipLeadingEmptyLines) continue;
          return this.#finish({ kind: 'malformed', reason: 'Empty start line' });
        }
        // Most requests end with their read: no view is made of nothing.
        return this.#finish({ kind: 'complete', rest: start === chunk.length ? NoBytes : chunk.subarray(start) });
      }
      this.lines.push(line);
    }
    this.#append(chunk, start);
    if (this.#consumed + this.#pendingLength > this.#maxSize) return this.#finish({ kind: 'tooLarge' });
    return { kind: 'incomplete' };
  }

  #finish(status: HeaderBlockStatus): HeaderBlockStatus {
    this.#done = true;
    this.#pending = NoBytes;
    this.#pendingLength = 0;
    return status;
  }

  /** The line ending at `lf`, decoded; undefined if it does not end in CR or holds a bare CR. */
  #takeLine(chunk: Uint8Array, start: number, lf: number): string | undefined {
    if (this.#pendingLength === 0) return lineOf(chunk, start, lf);
    this.#append(chunk, start, lf);
    const length = this.#pendingLength;
    this.#pendingLength = 0;
    return lineOf(this.#pending, 0, length);
  }

  #append(chunk: Uint8Array, start: number, end = chunk.length): void {
    const n = end - start;
    if (n <= 0) return;
    const needed = this.#pendingLength + n;
    if (needed > this.#pending.length) {
      // Doubling keeps the total copying linear; the size limit bounds the buffer.
      const grown = new Uint8Array(Math.max(needed, 256, this.#pending.length * 2));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(chunk.subarray(start, end), this.#pendingLength);
    this.#pendingLength = needed;
  }
}

/**
 * Bytes `[start, lf)` as a header line: it must end in CR and hold no other; decoded without the
 * CR. Read in place, with no view made per line (a socket's chunks are Buffers).
 */
function lineOf(bytes: Uint8Array, start: number, lf: number): string | undefined {
  const end = lf - 1;
  if (end < start || bytes[end] !== CR) return undefined;
  if (bytes.indexOf(CR, start) !== end) return undefined;
  return asBuffer(bytes).toString('latin1', start, end);
}

/**
 * Encodes header text as ISO-8859-1; callers have checked it with `isFieldValue` or `isToken`.
 * Copied out of the Buffer because small Buffers share Node's pool, and the I/O layer may
 * transfer these bytes to another thread.
 */
export function encodeLatin1(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** Throws InvalidArgumentError unless `name`/`value` can be written as one header field. */
export function assertHeaderField(name: string, value: string): void {
  if (typeof name !== 'string' || !isToken(name)) {
    throw new InvalidArgumentError(`Invalid header name ${JSON.stringify(name)}: must be an HTTP token`);
  }
  if (typeof value !== 'string' || !isFieldValue(value)) {
    throw new InvalidArgumentError(
      `Invalid value for header ${name}: CR, LF, NUL, other control characters and characters above U+00FF are not allowed`,
    );
  }
}

/**
 * Whether `host` is a Host field value we accept: `uri-host [":" port]` (RFC 9110 7.2) with a
 * reg-name, an IPv4 address or a bracketed IP literal; no userinfo (Qt refuses it too).
 */
export function isValidHost(host: string): boolean {
  return /^(?:\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9\-._~%]+)?\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{0,5})?$/.test(host);
}

/** Serialises a start line and header fields into a header block, final empty line included. */
export function serializeHeaderBlock(startLine: string, fields: readonly (readonly [string, string])[]): Uint8Array {
  let text = `${startLine}\r\n`;
  for (const [name, value] of fields) text += `${name}: ${value}\r\n`;
  text += '\r\n';
  return encodeLatin1(text);
}
