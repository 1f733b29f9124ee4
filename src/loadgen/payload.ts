/**
 * What the load tester sends, and how it checks what comes back, in bytes: payloads are written
 * straight into frame buffers and replies are checked where they lie in the read buffer, so that
 * no string or buffer is made per message (strings made and parsed per message were a quarter
 * of the generator's time).
 *
 * Generated payloads (no --message) carry the connection id, the message's sequence number and
 * its send time (whole µs on the generator thread's clock) in a fixed-size header, then a fixed
 * fill pattern up to --size. A reply is checked byte for byte against the payload sent: the
 * header against the one rebuilt from what the connection awaits, the fill with one memcmp.
 * Payloads smaller than the header carry only the fill pattern and are matched by order (an
 * echo answers in order on each connection).
 *
 * Template payloads (--message / --message-file) are the user's bytes. Text templates may hold
 * `{{seq}}` and `{{conn}}`, replaced per message; a reply must equal the expected bytes exactly.
 *
 * A text reply equal to what was sent is valid UTF-8 because what was sent is; one that differs
 * is a mismatch whatever its encoding, so no UTF-8 validation is needed on this path.
 */
import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../shared/engine/errors.ts';

export interface PayloadSpec {
  binary: boolean;
  /** Payload size in bytes for generated payloads. */
  size: number;
  /** The user's template; generated payloads when absent. */
  template?: Uint8Array;
}

/** Text header: "c" + 8 hex (connection) + "s" + 12 hex (sequence) + "t" + 12 hex (µs). */
export const TEXT_HEADER_LENGTH = 35;
/** Binary header: u32 connection, f64 sequence, f64 send time in µs (little endian). */
export const BINARY_HEADER_LENGTH = 20;

const TEXT_FILL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const HEX_DIGITS = '0123456789abcdef';
/** The two lowercase hex digits of each byte value: the header is written and checked a byte at a time. */
const HEX_PAIRS = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  HEX_PAIRS[2 * b] = HEX_DIGITS.charCodeAt(b >>> 4);
  HEX_PAIRS[2 * b + 1] = HEX_DIGITS.charCodeAt(b & 15);
}
/** Fills up to this long are compared in a loop: below it the call into native compare costs more. */
const LOOP_COMPARE_MAX = 64;

function textFill(length: number): Buffer {
  let s = '';
  while (s.length < length) s += TEXT_FILL;
  return Buffer.from(s.slice(0, length), 'latin1');
}

function binaryFill(length: number, offset: number): Buffer {
  const bytes = Buffer.alloc(length);
  // A pattern that differs from byte to byte catches reordered or shifted bytes.
  for (let i = 0; i < length; i++) bytes[i] = ((i + offset) * 31 + 7) & 0xff;
  return bytes;
}

/** Writes `value` (an integer below 2^48) as `width` (8 or 12) lowercase hex digits ending at `end`. */
function writeHex(target: Buffer, end: number, value: number, width: number): void {
  let bits = value % 0x1000000;
  const high = (value - bits) / 0x1000000;
  for (let at = end - 2, pair = 0; at >= end - width; at -= 2, pair++) {
    if (pair === 3) bits = high;
    const b = (bits & 0xff) << 1;
    target[at] = HEX_PAIRS[b]!;
    target[at + 1] = HEX_PAIRS[b + 1]!;
    bits >>>= 8;
  }
}

/** Whether `source` holds `value` as writeHex would write it, ending at `end`. */
function hexMatches(source: Buffer, end: number, value: number, width: number): boolean {
  let bits = value % 0x1000000;
  const high = (value - bits) / 0x1000000;
  for (let at = end - 2, pair = 0; at >= end - width; at -= 2, pair++) {
    if (pair === 3) bits = high;
    const b = (bits & 0xff) << 1;
    if (source[at] !== HEX_PAIRS[b] || source[at + 1] !== HEX_PAIRS[b + 1]) return false;
    bits >>>= 8;
  }
  return true;
}

/** Whether `source[start, start + expected.length)` equals `expected`. */
function rangeEquals(source: Buffer, start: number, expected: Buffer): boolean {
  const length = expected.length;
  if (length > LOOP_COMPARE_MAX) return source.compare(expected, 0, length, start, start + length) === 0;
  for (let i = 0; i < length; i++) if (source[start + i] !== expected[i]) return false;
  return true;
}

/**
 * Builds payloads for one generator thread and checks replies. `sendMicros` is always a whole
 * number of µs (the connection rounds it once, when it queues the message).
 */
export interface PayloadCodec {
  readonly binary: boolean;
  /** Whether payloads carry their connection, sequence and send time (generated, header size or more). */
  readonly embedsHeader: boolean;
  /** Payload size of message `seq` on connection `conn`. */
  lengthOf(conn: number, seq: number): number;
  /** Writes the payload of message `seq` on `conn`, sent at `sendMicros`, at `target[at]`. */
  write(target: Buffer, at: number, conn: number, seq: number, sendMicros: number): void;
  /**
   * Checks the reply `source[start, end)` (a text message when `text`) against the message awaited
   * next on that connection. Returns undefined when it is that message byte for byte, else why not.
   */
  check(source: Buffer, start: number, end: number, text: boolean, conn: number, seq: number, sendMicros: number): string | undefined;
}

export function createPayloadCodec(spec: PayloadSpec): PayloadCodec {
  if (spec.template !== undefined) {
    return spec.binary ? new BinaryTemplateCodec(spec.template) : new TextTemplateCodec(spec.template);
  }
  if (!Number.isInteger(spec.size) || spec.size < 0) {
    throw new InvalidArgumentError(`payload size must be a non-negative integer, got ${spec.size}`);
  }
  return new GeneratedCodec(spec.binary, spec.size);
}

/** The payload as the codec would send it: for tests and for the rare path that has a copy. */
export function payloadBytes(codec: PayloadCodec, conn: number, seq: number, sendMicros: number): Buffer {
  const bytes = Buffer.alloc(codec.lengthOf(conn, seq));
  codec.write(bytes, 0, conn, seq, sendMicros);
  return bytes;
}

function typeMismatch(text: boolean, binary: boolean): string | undefined {
  if (text === !binary) return undefined;
  return text ? 'text reply to a binary message' : 'binary reply to a text message';
}

/** Whether `source[start, end)` equals `expected` byte for byte. */
function bytesEqual(source: Buffer, start: number, end: number, expected: Buffer): boolean {
  return end - start === expected.length && source.compare(expected, 0, expected.length, start, end) === 0;
}

class GeneratedCodec implements PayloadCodec {
  readonly binary: boolean;
  readonly embedsHeader: boolean;
  private readonly size: number;
  private readonly headerLength: number;
  /** The bytes after the header: the same in every message. */
  private readonly fill: Buffer;
  /** The header a reply must carry, rebuilt per check. */
  private readonly expected: Buffer;

  constructor(binary: boolean, size: number) {
    this.binary = binary;
    this.size = size;
    const headerLength = binary ? BINARY_HEADER_LENGTH : TEXT_HEADER_LENGTH;
    this.embedsHeader = size >= headerLength;
    this.headerLength = this.embedsHeader ? headerLength : 0;
    const fillLength = size - this.headerLength;
    this.fill = binary ? binaryFill(fillLength, this.headerLength) : textFill(fillLength);
    this.expected = Buffer.alloc(this.headerLength);
  }

  lengthOf(): number {
    return this.size;
  }

  write(target: Buffer, at: number, conn: number, seq: number, sendMicros: number): void {
    if (this.embedsHeader) this.writeHeader(target, at, conn, seq, sendMicros);
    target.set(this.fill, at + this.headerLength);
  }

  check(source: Buffer, start: number, end: number, text: boolean, conn: number, seq: number, sendMicros: number): string | undefined {
    const wrongType = typeMismatch(text, this.binary);
    if (wrongType !== undefined) return wrongType;
    if (end - start !== this.size) return `reply of ${end - start} bytes, expected ${this.size}`;
    if (!rangeEquals(source, start + this.headerLength, this.fill)) return 'reply payload differs from the message sent';
    if (!this.embedsHeader || this.headerMatches(source, start, conn, seq, sendMicros)) return undefined;
    const replySeq = this.binary ? source.readDoubleLE(start + 4) : Number.parseInt(source.toString('latin1', start + 10, start + 22), 16);
    if (replySeq !== seq) return `reply to message ${replySeq}, expected ${seq}`;
    return 'reply header differs from the message sent';
  }

  private headerMatches(source: Buffer, at: number, conn: number, seq: number, sendMicros: number): boolean {
    if (this.binary) {
      this.writeHeader(this.expected, 0, conn, seq, sendMicros);
      return rangeEquals(source, at, this.expected);
    }
    return (
      source[at] === 0x63 && hexMatches(source, at + 9, conn, 8) &&
      source[at + 9] === 0x73 && hexMatches(source, at + 22, seq, 12) &&
      source[at + 22] === 0x74 && hexMatches(source, at + 35, sendMicros, 12)
    );
  }

  private writeHeader(target: Buffer, at: number, conn: number, seq: number, sendMicros: number): void {
    if (this.binary) {
      target.writeUInt32LE(conn >>> 0, at);
      target.writeDoubleLE(seq, at + 4);
      target.writeDoubleLE(sendMicros, at + 12);
      return;
    }
    target[at] = 0x63; // c
    writeHex(target, at + 9, conn, 8);
    target[at + 9] = 0x73; // s
    writeHex(target, at + 22, seq, 12);
    target[at + 22] = 0x74; // t
    writeHex(target, at + 35, sendMicros, 12);
  }
}

/** A text template split at its placeholders; a constant template is encoded once. */
class TextTemplateCodec implements PayloadCodec {
  readonly binary = false;
  readonly embedsHeader = false;
  private readonly parts: string[];
  private readonly constant: Buffer | undefined;
  /** The last message built, kept between lengthOf() and write() or check(). */
  private built: Buffer = Buffer.alloc(0);
  private builtConn = -1;
  private builtSeq = -1;

  constructor(template: Uint8Array) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(template);
    } catch {
      throw new InvalidArgumentError('the text message template is not valid UTF-8 (use --binary to send raw bytes)');
    }
    this.parts = text.split(/(\{\{seq\}\}|\{\{conn\}\})/);
    this.constant = this.parts.length === 1 ? Buffer.from(template) : undefined;
  }

  private message(conn: number, seq: number): Buffer {
    if (this.constant !== undefined) return this.constant;
    if (conn !== this.builtConn || seq !== this.builtSeq) {
      let s = '';
      for (const part of this.parts) s += part === '{{seq}}' ? String(seq) : part === '{{conn}}' ? String(conn) : part;
      this.built = Buffer.from(s, 'utf8');
      this.builtConn = conn;
      this.builtSeq = seq;
    }
    return this.built;
  }

  lengthOf(conn: number, seq: number): number {
    return this.message(conn, seq).length;
  }

  write(target: Buffer, at: number, conn: number, seq: number): void {
    target.set(this.message(conn, seq), at);
  }

  check(source: Buffer, start: number, end: number, text: boolean, conn: number, seq: number): string | undefined {
    return typeMismatch(text, false) ?? (bytesEqual(source, start, end, this.message(conn, seq)) ? undefined : 'reply differs from the message sent');
  }
}

class BinaryTemplateCodec implements PayloadCodec {
  readonly binary = true;
  readonly embedsHeader = false;
  private readonly bytes: Buffer;

  constructor(template: Uint8Array) {
    this.bytes = Buffer.from(template);
  }

  lengthOf(): number {
    return this.bytes.length;
  }

  write(target: Buffer, at: number): void {
    target.set(this.bytes, at);
  }

  check(source: Buffer, start: number, end: number, text: boolean): string | undefined {
    return typeMismatch(text, true) ?? (bytesEqual(source, start, end, this.bytes) ? undefined : 'reply differs from the message sent');
  }
}
