/**
 * What the load tester sends, and how it checks what comes back.
 *
 * Generated payloads (no --message) carry the connection id, the message's sequence number and
 * its send time (µs on the generator thread's clock) in a fixed-size header, then a fixed fill
 * pattern up to --size. A reply is matched to its request by that header, and checked byte for
 * byte against the payload regenerated from it. Payloads smaller than the header carry only the
 * fill pattern and are matched by order (an echo answers in order on each connection).
 *
 * Template payloads (--message / --message-file) are the user's bytes. Text templates may hold
 * `{{seq}}` and `{{conn}}`, replaced per message; a reply must equal the expected bytes exactly.
 */
import { InvalidArgumentError } from '../shared/engine/errors.ts';

export type Payload = string | Uint8Array;

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

function textFill(length: number): string {
  let s = '';
  while (s.length < length) s += TEXT_FILL;
  return s.slice(0, length);
}

function binaryFill(length: number, offset: number): Uint8Array {
  const bytes = new Uint8Array(length);
  // A pattern that differs from byte to byte catches reordered or shifted bytes.
  for (let i = 0; i < length; i++) bytes[i] = ((i + offset) * 31 + 7) & 0xff;
  return bytes;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

/** What a reply turned out to be. */
export type MatchResult =
  | { ok: true; sendMicros: number }
  | { ok: false; reason: string };

/**
 * Builds payloads for one generator thread and checks replies. No per-message allocation beyond
 * the text header string (strings are immutable) and, for binary, one shared scratch buffer that
 * the engine copies when it frames (masking needs a copy anyway).
 */
export interface PayloadCodec {
  readonly binary: boolean;
  /** Whether replies carry their send time and sequence (generated payloads of header size or more). */
  readonly embedsHeader: boolean;
  readonly byteLength: number;
  /**
   * The payload of message `seq` on connection `conn`, sent at `sendMicros`. A binary result may
   * be a shared buffer: use it before the next call.
   */
  build(conn: number, seq: number, sendMicros: number): Payload;
  /**
   * Checks a reply against the message expected next on that connection (`seq`, recorded at
   * `sendMicros`). On success returns the send time the reply's latency is measured from.
   */
  check(reply: Payload, conn: number, seq: number, sendMicros: number): MatchResult;
}

export function createPayloadCodec(spec: PayloadSpec): PayloadCodec {
  if (spec.template !== undefined) {
    return spec.binary ? new BinaryTemplateCodec(spec.template) : new TextTemplateCodec(spec.template);
  }
  if (!Number.isInteger(spec.size) || spec.size < 0) {
    throw new InvalidArgumentError(`payload size must be a non-negative integer, got ${spec.size}`);
  }
  return spec.binary ? new GeneratedBinaryCodec(spec.size) : new GeneratedTextCodec(spec.size);
}

class GeneratedTextCodec implements PayloadCodec {
  readonly binary = false;
  readonly embedsHeader: boolean;
  readonly byteLength: number;
  private readonly fill: string;

  constructor(size: number) {
    this.byteLength = size;
    this.embedsHeader = size >= TEXT_HEADER_LENGTH;
    this.fill = textFill(this.embedsHeader ? size - TEXT_HEADER_LENGTH : size);
  }

  private header(conn: number, seq: number, sendMicros: number): string {
    return 'c' + hex(conn, 8) + 's' + hex(seq, 12) + 't' + hex(Math.round(sendMicros), 12);
  }

  build(conn: number, seq: number, sendMicros: number): Payload {
    return this.embedsHeader ? this.header(conn, seq, sendMicros) + this.fill : this.fill;
  }

  check(reply: Payload, conn: number, seq: number, sendMicros: number): MatchResult {
    if (typeof reply !== 'string') return { ok: false, reason: 'binary reply to a text message' };
    if (reply.length !== this.byteLength) {
      return { ok: false, reason: `reply of ${reply.length} characters, expected ${this.byteLength}` };
    }
    if (!reply.endsWith(this.fill)) return { ok: false, reason: 'reply payload differs from the message sent' };
    if (!this.embedsHeader) return { ok: true, sendMicros };
    const replySeq = Number.parseInt(reply.slice(10, 22), 16);
    if (replySeq !== seq) return { ok: false, reason: `reply to message ${replySeq}, expected ${seq}` };
    if (!reply.startsWith(this.header(conn, seq, sendMicros))) {
      return { ok: false, reason: 'reply header differs from the message sent' };
    }
    return { ok: true, sendMicros: Number.parseInt(reply.slice(23, 35), 16) };
  }
}

class GeneratedBinaryCodec implements PayloadCodec {
  readonly binary = true;
  readonly embedsHeader: boolean;
  readonly byteLength: number;
  private readonly scratch: Uint8Array;
  private readonly view: DataView;
  private readonly fillStart: number;
  /** The scratch buffer's fill, which build() never writes: what every reply's tail must equal. */
  private readonly fill: Uint8Array;

  constructor(size: number) {
    this.byteLength = size;
    this.embedsHeader = size >= BINARY_HEADER_LENGTH;
    this.fillStart = this.embedsHeader ? BINARY_HEADER_LENGTH : 0;
    this.scratch = new Uint8Array(size);
    this.scratch.set(binaryFill(size - this.fillStart, this.fillStart), this.fillStart);
    this.view = new DataView(this.scratch.buffer);
    this.fill = this.scratch.subarray(this.fillStart);
  }

  build(conn: number, seq: number, sendMicros: number): Payload {
    if (this.embedsHeader) {
      this.view.setUint32(0, conn >>> 0, true);
      this.view.setFloat64(4, seq, true);
      this.view.setFloat64(12, Math.round(sendMicros), true);
    }
    return this.scratch;
  }

  check(reply: Payload, conn: number, seq: number, sendMicros: number): MatchResult {
    if (typeof reply === 'string') return { ok: false, reason: 'text reply to a binary message' };
    if (reply.byteLength !== this.byteLength) {
      return { ok: false, reason: `reply of ${reply.byteLength} bytes, expected ${this.byteLength}` };
    }
    if (Buffer.compare(reply.subarray(this.fillStart), this.fill) !== 0) {
      return { ok: false, reason: 'reply payload differs from the message sent' };
    }
    if (!this.embedsHeader) return { ok: true, sendMicros };
    const view = new DataView(reply.buffer, reply.byteOffset, BINARY_HEADER_LENGTH);
    const replySeq = view.getFloat64(4, true);
    if (replySeq !== seq) return { ok: false, reason: `reply to message ${replySeq}, expected ${seq}` };
    const replyMicros = view.getFloat64(12, true);
    if (view.getUint32(0, true) !== conn >>> 0 || replyMicros !== Math.round(sendMicros)) {
      return { ok: false, reason: 'reply header differs from the message sent' };
    }
    return { ok: true, sendMicros: replyMicros };
  }
}

/** A text template split at its placeholders; a constant template is built once. */
class TextTemplateCodec implements PayloadCodec {
  readonly binary = false;
  readonly embedsHeader = false;
  readonly byteLength: number;
  private readonly parts: string[];
  private readonly constant: string | undefined;

  constructor(template: Uint8Array) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(template);
    } catch {
      throw new InvalidArgumentError('the text message template is not valid UTF-8 (use --binary to send raw bytes)');
    }
    this.parts = text.split(/(\{\{seq\}\}|\{\{conn\}\})/);
    this.constant = this.parts.length === 1 ? text : undefined;
    this.byteLength = template.byteLength;
  }

  build(conn: number, seq: number): Payload {
    if (this.constant !== undefined) return this.constant;
    let s = '';
    for (const part of this.parts) s += part === '{{seq}}' ? String(seq) : part === '{{conn}}' ? String(conn) : part;
    return s;
  }

  check(reply: Payload, conn: number, seq: number, sendMicros: number): MatchResult {
    if (typeof reply !== 'string') return { ok: false, reason: 'binary reply to a text message' };
    if (reply !== this.build(conn, seq)) return { ok: false, reason: 'reply differs from the message sent' };
    return { ok: true, sendMicros };
  }
}

class BinaryTemplateCodec implements PayloadCodec {
  readonly binary = true;
  readonly embedsHeader = false;
  readonly byteLength: number;
  private readonly bytes: Uint8Array;

  constructor(template: Uint8Array) {
    this.bytes = template;
    this.byteLength = template.byteLength;
  }

  build(): Payload {
    return this.bytes;
  }

  check(reply: Payload, _conn: number, _seq: number, sendMicros: number): MatchResult {
    if (typeof reply === 'string') return { ok: false, reason: 'text reply to a binary message' };
    if (Buffer.compare(reply, this.bytes) !== 0) return { ok: false, reason: 'reply differs from the message sent' };
    return { ok: true, sendMicros };
  }
}
