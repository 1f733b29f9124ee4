/**
 * Client side of the opening handshake: the upgrade request (RFC 6455 4.1, first half) and an
 * incremental reader of the server's answer that applies the checks of 4.1 (second half) and
 * returns the bytes after it untouched. No I/O, no timers: the caller writes `bytes`, feeds what
 * it reads, and runs its own handshake timeout.
 */

import { acceptKey, generateHandshakeKey, isValidHandshakeKey } from './accept-key.ts';
import { InvalidArgumentError, SocketError, WebSocketError } from './errors.ts';
import type { ExtensionOffer } from './extension.ts';
import { formatExtensionHeader, parseExtensionHeader } from './extension-header.ts';
import {
  assertHeaderField,
  countHeader,
  getHeader,
  HeaderBlockReader,
  headerRecord,
  isFieldValue,
  isToken,
  isValidHost,
  listHasToken,
  parseCommaList,
  parseHeaderLine,
  serializeHeaderBlock,
} from './http-headers.ts';
import { Defaults } from './limits.ts';

export interface ClientRequestOptions {
  /** The Host field: `host` or `host:port` (IPv6 in brackets), without userinfo. */
  host: string;
  /** Path and query, starting with `/` (origin-form, RFC 9112 3.2.1). */
  resourceName: string;
  /** Sec-WebSocket-Key; 16 random bytes in base64 when left out. */
  key?: string;
  /** Sent as `Origin` unless undefined or '' (as Qt does). */
  origin?: string;
  /** Offered subprotocols in order of preference; tokens, each once. */
  subprotocols?: string[];
  /** Offered extensions, in order of preference. */
  extensions?: ExtensionOffer[];
  /** Further fields, written after the handshake's own. */
  headers?: Record<string, string> | [string, string][];
}

/**
 * Fields the caller may not add: the handshake's own (a second copy would contradict it or make
 * the server answer 400), Sec-WebSocket-Protocol/Extensions (offer those through the options, so
 * that the response check knows what was offered), and body framing (bytes after the header
 * block are frames, never a body).
 */
const RESERVED_IN_REQUEST = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/** The upgrade request, in Qt's field order, and the key it carries (for the response check). */
export function buildClientRequest(options: ClientRequestOptions): { bytes: Uint8Array; key: string } {
  const { host, resourceName, origin, subprotocols = [], extensions = [], headers = [] } = options;
  if (typeof host !== 'string' || !isValidHost(host)) {
    throw new InvalidArgumentError(`Invalid host ${JSON.stringify(host)}: expected host or host:port`);
  }
  if (typeof resourceName !== 'string' || !isOriginForm(resourceName)) {
    throw new InvalidArgumentError(
      `Invalid resource name ${JSON.stringify(resourceName)}: expected a path starting with / in visible ASCII, without #`,
    );
  }
  const key = options.key ?? generateHandshakeKey();
  if (typeof key !== 'string' || !isValidHandshakeKey(key)) {
    throw new InvalidArgumentError('key must be base64 of 16 bytes (24 characters ending in ==)');
  }

  const fields: [string, string][] = [
    ['Host', host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
  ];
  const hasOrigin = origin !== undefined && origin !== '';
  if (hasOrigin) {
    if (typeof origin !== 'string' || !isFieldValue(origin)) {
      throw new InvalidArgumentError('Invalid origin: control characters (CR, LF, NUL, ...) are not allowed');
    }
    fields.push(['Origin', origin]);
  }
  fields.push(['Sec-WebSocket-Version', '13']);

  const seen = new Set<string>();
  for (const protocol of subprotocols) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw new InvalidArgumentError(
        `Invalid subprotocol name ${JSON.stringify(protocol)}: must be non-empty U+0021..U+007E without ()<>@,;:\\"/[]?={}`,
      );
    }
    if (seen.has(protocol)) throw new InvalidArgumentError(`Subprotocol ${protocol} offered twice`);
    seen.add(protocol);
  }
  if (subprotocols.length > 0) fields.push(['Sec-WebSocket-Protocol', subprotocols.join(', ')]);
  if (extensions.length > 0) fields.push(['Sec-WebSocket-Extensions', formatExtensionHeader(extensions)]);

  const extra = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [name, value] of extra) {
    assertHeaderField(name, value);
    const lower = name.toLowerCase();
    if (RESERVED_IN_REQUEST.has(lower) || (hasOrigin && lower === 'origin')) {
      throw new InvalidArgumentError(`Header ${name} is set by the handshake itself and cannot be given`);
    }
    fields.push([name, value]);
  }
  return { bytes: serializeHeaderBlock(`GET ${resourceName} HTTP/1.1`, fields), key };
}

function isOriginForm(target: string): boolean {
  if (!target.startsWith('/')) return false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) return false;
  }
  return true;
}

export interface HandshakeResponse {
  status: number;
  /** The reason phrase as sent ('' if none). */
  statusText: string;
  /** `1.1` for `HTTP/1.1`. */
  httpVersion: string;
  /** Lowercase name → value; repeated fields joined with ", ". */
  headers: Record<string, string>;
  /** Every field as sent, name case kept, in order. */
  rawHeaders: [string, string][];
}

export type ClientHandshakeResult =
  | { kind: 'incomplete' }
  | {
      kind: 'accepted';
      response: HandshakeResponse;
      /** The subprotocol the server chose; '' if none. */
      subprotocol: string;
      /** The server's extension answers, in order; each names an offered extension. */
      extensions: ExtensionOffer[];
      /** A view of the bytes after the header block in the last chunk: the first frames. */
      rest: Uint8Array;
    }
  /** `response` is there whenever the header block could be read, so headers reach the caller. */
  | {
    kind: 'failed';
    error: WebSocketError;
    response: HandshakeResponse | undefined;
    /** After a status other than 101: the bytes after the header block in the last chunk (the start of the body). */
    rest?: Uint8Array;
  };

export interface ClientHandshakeParserOptions {
  /** The Sec-WebSocket-Key that was sent. */
  key: string;
  /** The subprotocols that were offered. */
  subprotocols?: string[];
  /** The names of the extensions that were offered. */
  extensions?: string[];
  /** Largest header block accepted, in bytes (default `Defaults.maxHandshakeHeaderSize`). */
  maxHeaderSize?: number;
}

type Failed = Extract<ClientHandshakeResult, { kind: 'failed' }>;

interface StatusLine {
  status: number;
  statusText: string;
  httpVersion: string;
}

/**
 * Reads the server's answer. The checks, in this order, each failing with `HandshakeFailed`:
 * status 101 (a 3xx names its Location); HTTP/1.1 or later; `Upgrade` equal to `websocket`
 * (ignoring case, RFC 6455 4.1 step 3); `Connection` listing `upgrade` (a token list, unlike Qt);
 * exactly one `Sec-WebSocket-Accept` equal to acceptKey(key); at most one subprotocol and one that
 * was offered; only offered extensions, with valid 9.1 syntax. Other 1xx responses before the 101
 * are not expected on an upgrade and fail as an unexpected status.
 */
export class ClientHandshakeParser {
  readonly #expectedAccept: string;
  readonly #subprotocols: readonly string[];
  readonly #extensions: readonly string[];
  readonly #maxHeaderSize: number;
  readonly #reader: HeaderBlockReader;
  readonly #rawHeaders: [string, string][] = [];
  #statusLine: StatusLine | undefined;
  #linesChecked = 0;
  #done = false;

  constructor(options: ClientHandshakeParserOptions) {
    const { key, subprotocols = [], extensions = [] } = options;
    if (typeof key !== 'string' || !isValidHandshakeKey(key)) {
      throw new InvalidArgumentError('key must be the Sec-WebSocket-Key that was sent (base64 of 16 bytes)');
    }
    const maxHeaderSize = options.maxHeaderSize ?? Defaults.maxHandshakeHeaderSize;
    if (!Number.isSafeInteger(maxHeaderSize) || maxHeaderSize <= 0) {
      throw new InvalidArgumentError(`maxHeaderSize must be a positive integer, got ${maxHeaderSize}`);
    }
    this.#expectedAccept = acceptKey(key);
    this.#subprotocols = [...subprotocols];
    this.#extensions = [...extensions];
    this.#maxHeaderSize = maxHeaderSize;
    this.#reader = new HeaderBlockReader(maxHeaderSize, false);
  }

  /** Takes the next bytes from the server. Call no more once the result is not `incomplete`. */
  feed(chunk: Uint8Array): ClientHandshakeResult {
    if (this.#done) throw new InvalidArgumentError('feed() called after the handshake response was complete');
    if (!(chunk instanceof Uint8Array)) throw new InvalidArgumentError('feed() takes a Uint8Array');
    const status = this.#reader.feed(chunk);
    const lines = this.#reader.lines;
    for (; this.#linesChecked < lines.length; this.#linesChecked++) {
      const line = lines[this.#linesChecked]!;
      const fault = this.#linesChecked === 0 ? this.#checkStatusLine(line) : this.#checkHeaderLine(line);
      if (fault !== undefined) return this.#finish(fault);
    }
    switch (status.kind) {
      case 'incomplete':
        return status;
      case 'tooLarge':
        return this.#finish(fail(`HTTP response header block exceeds ${this.#maxHeaderSize} bytes`));
      case 'malformed':
        return this.#finish(fail(`Invalid HTTP response: ${status.reason}`));
      case 'complete':
        return this.#finish(this.#complete(status.rest));
    }
  }

  #finish(result: ClientHandshakeResult): ClientHandshakeResult {
    this.#done = true;
    return result;
  }

  #checkStatusLine(line: string): Failed | undefined {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]; the second SP is taken as
    // optional, since a missing one loses nothing a client should look at (RFC 9112 4).
    const match = /^HTTP\/([0-9])\.([0-9]) ([0-9]{3})(?: (.*))?$/.exec(line);
    if (match === null) return fail(`Invalid HTTP response: malformed status line ${JSON.stringify(line.slice(0, 100))}`);
    this.#statusLine = {
      httpVersion: `${match[1]}.${match[2]}`,
      status: Number(match[3]),
      statusText: match[4] ?? '',
    };
    return undefined;
  }

  #checkHeaderLine(line: string): Failed | undefined {
    const field = parseHeaderLine(line);
    if (!field.ok) return fail(`Invalid HTTP response: ${field.reason}`);
    this.#rawHeaders.push([field.name, field.value]);
    return undefined;
  }

  #complete(rest: Uint8Array): ClientHandshakeResult {
    const { status, statusText, httpVersion } = this.#statusLine!;
    const raw = this.#rawHeaders;
    const headers = headerRecord(raw);
    const response: HandshakeResponse = { status, statusText, httpVersion, headers, rawHeaders: raw };

    if (status !== 101) {
      let message = `Unexpected HTTP status ${status}${statusText === '' ? '' : ` ${statusText}`}`;
      if (status >= 300 && status < 400) {
        const location = getHeader(headers, 'location');
        message += location === undefined ? ' (redirect without a Location header)' : ` (redirect to ${location})`;
      }
      return { ...fail(message, response), rest };
    }
    const [major, minor] = httpVersion.split('.').map(Number) as [number, number];
    if (major < 1 || (major === 1 && minor < 1)) {
      return fail(`Unsupported HTTP version HTTP/${httpVersion} in the handshake response: 1.1 or later is required`, response);
    }

    const upgrade = getHeader(headers, 'upgrade');
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      return fail(`Invalid Upgrade header in the handshake response: expected websocket, got ${describe(upgrade)}`, response);
    }
    const connection = getHeader(headers, 'connection');
    if (!listHasToken(connection, 'upgrade')) {
      return fail(`Invalid Connection header in the handshake response: expected upgrade, got ${describe(connection)}`, response);
    }

    const acceptCount = countHeader(raw, 'sec-websocket-accept');
    if (acceptCount === 0) return fail('Missing Sec-WebSocket-Accept header in the handshake response', response);
    if (acceptCount > 1) return fail('Repeated Sec-WebSocket-Accept header in the handshake response', response);
    const accept = getHeader(headers, 'sec-websocket-accept')!;
    if (accept !== this.#expectedAccept) {
      return fail(`Sec-WebSocket-Accept mismatch: expected ${this.#expectedAccept}, got ${describe(accept)}`, response);
    }

    let subprotocol = '';
    const protocolHeader = getHeader(headers, 'sec-websocket-protocol');
    if (protocolHeader !== undefined) {
      const chosen = parseCommaList(protocolHeader);
      if (chosen.length === 0) return fail('Empty Sec-WebSocket-Protocol header in the handshake response', response);
      if (chosen.length > 1) return fail(`Server chose more than one subprotocol: ${protocolHeader}`, response);
      subprotocol = chosen[0]!;
      if (!this.#subprotocols.includes(subprotocol)) {
        return fail(`Server chose subprotocol ${JSON.stringify(subprotocol)}, which was not offered`, response);
      }
    }

    let extensions: ExtensionOffer[] = [];
    const extensionHeader = getHeader(headers, 'sec-websocket-extensions');
    if (extensionHeader !== undefined) {
      const parsed = parseExtensionHeader(extensionHeader);
      if (!parsed.ok) return fail(`${parsed.reason} (in the handshake response)`, response);
      for (const answer of parsed.offers) {
        if (!this.#extensions.includes(answer.name)) {
          return fail(`Server accepted extension ${answer.name}, which was not offered`, response);
        }
      }
      extensions = parsed.offers;
    }

    return { kind: 'accepted', response, subprotocol, extensions, rest };
  }
}

function fail(message: string, response?: HandshakeResponse): Failed {
  return { kind: 'failed', error: new WebSocketError(SocketError.HandshakeFailed, message), response };
}

function describe(value: string | undefined): string {
  return value === undefined ? 'none' : JSON.stringify(value);
}
