/**
 * Server side of the opening handshake: reads the client's upgrade request (RFC 6455 4.2.1) as
 * bytes arrive and either returns the request, with the bytes that followed it, or says which
 * HTTP error to answer with. No I/O: the caller writes `buildAcceptResponse` or
 * `buildErrorResponse` and hands `rest` to the frame engine.
 *
 * Decisions, each from the RFCs:
 * - Every line must end in CRLF; a bare LF or CR is 400 (see http-headers.ts for why).
 *   Empty lines before the request line are skipped (RFC 9112 2.2).
 * - The request line must be exactly `method SP request-target SP HTTP/x.y` (single spaces).
 * - A version below HTTP/1.1 is 400 (RFC 6455 4.1 requires 1.1 or later).
 * - A method other than GET is 405 with `Allow: GET` (RFC 9110 15.5.6 requires the Allow field),
 *   which tells the client the resource exists but only for the upgrade.
 * - obs-fold, whitespace before a colon, a line without a colon, a name that is not a token, or a
 *   control character in a value: 400 (RFC 9112 5.1, 5.2; RFC 9110 5.5).
 * - A header block larger than `maxHeaderSize` bytes (request line to final CRLF): 431.
 * - Errors are reported as soon as they are certain (a bad request line before the headers
 *   arrive); each is the first fault in stream order, so the result does not depend on how the
 *   bytes were chunked.
 * - Exactly one non-empty, valid Host (RFC 9112 3.2), at most one Origin, one Sec-WebSocket-Key
 *   and one Sec-WebSocket-Version (RFC 6455 11.3.1, 11.3.5): a repeat is 400.
 * - `Upgrade` and `Connection` are comma lists; `websocket` and `upgrade` must be among their
 *   tokens, ignoring case (so `Connection: keep-alive, Upgrade` is accepted).
 * - `Sec-WebSocket-Version` must be `13`, else 426 with `Sec-WebSocket-Version: 13` (RFC 6455
 *   4.2.2 / 4.4), including when it is missing, so that the client learns what we speak.
 * - `Sec-WebSocket-Key` must be base64 of 16 bytes (24 characters with `==`), else 400.
 * - Subprotocols must be tokens and unique (RFC 6455 4.1), extensions must follow 9.1: else 400.
 * - A request with a body (Transfer-Encoding, or a Content-Length other than 0) is 400: the bytes
 *   after the header block are WebSocket frames, and a body would make that ambiguous.
 *
 * With `plainHttp: true` the parser also accepts requests that are not WebSocket upgrades, for a
 * server that answers plain HTTP on the same port. A request is an upgrade attempt exactly when
 * its `Upgrade` list has the token `websocket`; an upgrade attempt is checked as above (405, 400,
 * 426 unchanged), and any other well-formed request is returned as `{ kind: 'http' }`:
 * - any method, and HTTP/1.0 as well as 1.1 and later (RFC 9112 2.3); the method and the version
 *   are then judged when the header block is complete (we cannot know before whether the
 *   request is an upgrade), so a 405 or a version 400 no longer comes before the headers;
 * - Host as RFC 9112 3.2 requires: exactly one valid Host in HTTP/1.1 (400 otherwise); at most
 *   one, valid, in HTTP/1.0, where it may be missing;
 * - no content: the server answers and closes, it reads no request body. Transfer-Encoding or a
 *   positive Content-Length is 413; an invalid Content-Length is 400 (RFC 9112 6.3).
 * The asterisk and authority forms of the target stay 400 (OPTIONS * and CONNECT are not served).
 */

import { isValidHandshakeKey } from './accept-key.ts';
import { InvalidArgumentError } from './errors.ts';
import type { ExtensionOffer } from './extension.ts';
import { parseExtensionHeader } from './extension-header.ts';
import {
  countHeader,
  getHeader,
  HeaderBlockReader,
  headerRecord,
  isHeaderName,
  isToken,
  isValidHost,
  listHasToken,
  parseCommaList,
  parseHeaderLine,
} from './http-headers.ts';
import { Defaults } from './limits.ts';

/** The request line and header block of any well-formed request. */
export interface HttpRequestHead {
  method: string;
  /** The request-target exactly as sent (`/chat?room=1`, or an absolute URI). */
  resourceName: string;
  /** The path of the target: everything before `?` (for an absolute URI, after the authority). */
  path: string;
  /** What follows the first `?`, without it; '' when there is none. */
  query: string;
  /** `1.1` for `HTTP/1.1`. */
  httpVersion: string;
  /** Lowercase name → value; repeated fields joined with ", ". */
  headers: Record<string, string>;
  /** Every field as sent, name case kept, in order. */
  rawHeaders: [string, string][];
  /** '' only for an HTTP/1.0 request without Host (never for an upgrade). */
  host: string;
}

export interface HandshakeRequest extends HttpRequestHead {
  key: string;
  version: 13;
  origin: string | undefined;
  /** Every protocol offered in all Sec-WebSocket-Protocol fields, in the client's order. */
  subprotocols: string[];
  /** Every offer of all Sec-WebSocket-Extensions fields, in order. */
  extensions: ExtensionOffer[];
}

export type ServerHandshakeResult =
  | { kind: 'incomplete' }
  /** `rest` is a view of the bytes after the header block in the last chunk: the first frames. */
  | { kind: 'request'; request: HandshakeRequest; rest: Uint8Array }
  /** Answer with `buildErrorResponse(status, reason, headers)` and close. */
  | { kind: 'reject'; status: number; reason: string; headers: [string, string][] };

/**
 * Only with `plainHttp: true`: a well-formed request that is not a WebSocket upgrade. `rest` is
 * what followed its header block in the last chunk (a pipelined request, say).
 */
export type PlainHttpResult = { kind: 'http'; request: HttpRequestHead; rest: Uint8Array };

/** What `feed` can return: `PlainHttpResult` only for a parser made with `plainHttp` possibly true. */
export type ServerRequestResult<PlainHttp extends boolean = boolean> =
  | ServerHandshakeResult
  | (true extends PlainHttp ? PlainHttpResult : never);

export interface ServerHandshakeParserOptions<PlainHttp extends boolean = boolean> {
  /** Largest header block accepted, in bytes (default `Defaults.maxHandshakeHeaderSize`). */
  maxHeaderSize?: number;
  /** Return requests that are not WebSocket upgrades as `{ kind: 'http' }` instead of rejecting them. */
  plainHttp?: PlainHttp;
  /**
   * With `plainHttp`: the caller passes the connection on to an HTTP server that reads request
   * content itself, so Transfer-Encoding and Content-Length are left to it (no 413).
   */
  plainHttpContent?: boolean;
}

type Reject = Extract<ServerHandshakeResult, { kind: 'reject' }>;

interface RequestLine {
  method: string;
  target: string;
  httpVersion: string;
  /** Below HTTP/1.1: only a plain request may be (with `plainHttp`). */
  belowHttp11: boolean;
  path: string;
  query: string;
}

export class ServerHandshakeParser<PlainHttp extends boolean = false> {
  readonly #maxHeaderSize: number;
  readonly #plainHttp: boolean;
  readonly #plainHttpContent: boolean;
  readonly #reader: HeaderBlockReader;
  readonly #rawHeaders: [string, string][] = [];
  #requestLine: RequestLine | undefined;
  #linesChecked = 0;
  #done = false;

  constructor(options: ServerHandshakeParserOptions<PlainHttp> = {}) {
    const maxHeaderSize = options.maxHeaderSize ?? Defaults.maxHandshakeHeaderSize;
    if (!Number.isSafeInteger(maxHeaderSize) || maxHeaderSize <= 0) {
      throw new InvalidArgumentError(`maxHeaderSize must be a positive integer, got ${maxHeaderSize}`);
    }
    this.#maxHeaderSize = maxHeaderSize;
    this.#plainHttp = options.plainHttp === true;
    this.#plainHttpContent = options.plainHttpContent === true;
    this.#reader = new HeaderBlockReader(maxHeaderSize, true);
  }

  /** Takes the next bytes from the client. Call no more once the result is not `incomplete`. */
  feed(chunk: Uint8Array): ServerRequestResult<PlainHttp> {
    if (this.#done) throw new InvalidArgumentError('feed() called after the handshake request was complete');
    if (!(chunk instanceof Uint8Array)) throw new InvalidArgumentError('feed() takes a Uint8Array');
    const status = this.#reader.feed(chunk);
    const lines = this.#reader.lines;
    for (; this.#linesChecked < lines.length; this.#linesChecked++) {
      const line = lines[this.#linesChecked]!;
      const fault = this.#linesChecked === 0 ? this.#checkRequestLine(line) : this.#checkHeaderLine(line);
      if (fault !== undefined) return this.#finish(fault);
    }
    switch (status.kind) {
      case 'incomplete':
        return status;
      case 'tooLarge':
        return this.#finish(reject(431, `Request header block exceeds ${this.#maxHeaderSize} bytes`));
      case 'malformed':
        return this.#finish(reject(400, status.reason));
      case 'complete': {
        const result = this.#complete(status.rest);
        return this.#finish(result);
      }
    }
  }

  #finish(result: ServerRequestResult): ServerRequestResult<PlainHttp> {
    this.#done = true;
    // A PlainHttpResult comes only from a parser made with plainHttp, whose PlainHttp admits it.
    return result as ServerRequestResult<PlainHttp>;
  }

  #checkRequestLine(line: string): Reject | undefined {
    const parts = line.split(' ');
    if (parts.length !== 3) return reject(400, 'Malformed request line');
    const [method, target, version] = parts as [string, string, string];
    if (!isToken(method)) return reject(400, 'Malformed request line: invalid method');
    // HTTP/D.D, read by hand: a regular expression's match would be an array per request.
    const major = version.charCodeAt(5) - 0x30;
    const minor = version.charCodeAt(7) - 0x30;
    if (version.length !== 8 || !version.startsWith('HTTP/') || version.charCodeAt(6) !== 0x2e || !(major >= 0 && major <= 9) || !(minor >= 0 && minor <= 9)) {
      return reject(400, 'Malformed request line: invalid HTTP version');
    }
    const belowHttp11 = major < 1 || (major === 1 && minor < 1);
    // With plainHttp these two wait for the header block: a plain request may use them.
    if (!this.#plainHttp || major < 1) {
      if (belowHttp11) return versionTooLow(version);
      if (method !== 'GET') return methodNotAllowed(method);
    }
    const split = splitTarget(target);
    if (split === undefined) return reject(400, 'Malformed request target');
    const httpVersion = major === 1 && minor === 1 ? '1.1' : `${major}.${minor}`;
    this.#requestLine = { method, target, httpVersion, belowHttp11, path: split.path, query: split.query };
    return undefined;
  }

  #checkHeaderLine(line: string): Reject | undefined {
    const field = parseHeaderLine(line);
    if (!field.ok) return reject(400, field.reason);
    this.#rawHeaders.push([field.name, field.value]);
    return undefined;
  }

  #complete(rest: Uint8Array): ServerRequestResult {
    const requestLine = this.#requestLine!;
    const raw = this.#rawHeaders;
    const headers = headerRecord(raw);

    if (this.#plainHttp) {
      if (!listHasToken(getHeader(headers, 'upgrade'), 'websocket')) return this.#completePlain(requestLine, raw, headers, rest);
      // An upgrade attempt: what the request line alone would have told without plainHttp.
      if (requestLine.belowHttp11) return versionTooLow(`HTTP/${requestLine.httpVersion}`);
      if (requestLine.method !== 'GET') return methodNotAllowed(requestLine.method);
    }

    const hostCount = countHeader(raw, 'host');
    const host = getHeader(headers, 'host') ?? '';
    if (hostCount > 1) return reject(400, 'Repeated Host header');
    if (host === '') return reject(400, 'Missing Host header');
    if (!isValidHost(host)) return reject(400, 'Invalid Host header');

    if (!listHasToken(getHeader(headers, 'upgrade'), 'websocket')) {
      return reject(400, 'Missing or invalid Upgrade header: expected websocket');
    }
    if (!listHasToken(getHeader(headers, 'connection'), 'upgrade')) {
      return reject(400, 'Missing or invalid Connection header: expected upgrade');
    }
    if (getHeader(headers, 'transfer-encoding') !== undefined) {
      return reject(400, 'A WebSocket upgrade request must not have a body (Transfer-Encoding)');
    }
    const contentLength = getHeader(headers, 'content-length');
    if (contentLength !== undefined && !parseCommaList(contentLength).every((v) => /^0+$/.test(v))) {
      return reject(400, 'A WebSocket upgrade request must not have a body (Content-Length)');
    }

    if (countHeader(raw, 'sec-websocket-version') > 1) return reject(400, 'Repeated Sec-WebSocket-Version header');
    const version = getHeader(headers, 'sec-websocket-version');
    if (version !== '13') {
      const what = version === undefined ? 'Missing Sec-WebSocket-Version header' : `Unsupported WebSocket version ${version}`;
      return reject(426, `${what}: this server supports version 13`, [['Sec-WebSocket-Version', '13']]);
    }

    if (countHeader(raw, 'sec-websocket-key') > 1) return reject(400, 'Repeated Sec-WebSocket-Key header');
    const key = getHeader(headers, 'sec-websocket-key');
    if (key === undefined) return reject(400, 'Missing Sec-WebSocket-Key header');
    if (!isValidHandshakeKey(key)) return reject(400, 'Invalid Sec-WebSocket-Key: must be base64 of 16 bytes');

    if (countHeader(raw, 'origin') > 1) return reject(400, 'Repeated Origin header');

    // A Set, not Array.includes: thousands of names fit in the header limit, and the duplicate
    // check must not turn quadratic on them. Made only for a request that offers any.
    let subprotocols: Set<string> | undefined;
    if (getHeader(headers, 'sec-websocket-protocol') !== undefined) {
      subprotocols = new Set<string>();
      for (const [name, value] of raw) {
        if (!isHeaderName(name, 'sec-websocket-protocol')) continue;
        for (const protocol of parseCommaList(value)) {
          if (!isToken(protocol)) return reject(400, `Invalid subprotocol name ${JSON.stringify(protocol)}`);
          if (subprotocols.has(protocol)) return reject(400, `Subprotocol ${protocol} offered twice`);
          subprotocols.add(protocol);
        }
      }
    }

    let extensions: ExtensionOffer[] = [];
    const extensionHeader = getHeader(headers, 'sec-websocket-extensions');
    if (extensionHeader !== undefined) {
      const parsed = parseExtensionHeader(extensionHeader);
      if (!parsed.ok) return reject(400, parsed.reason);
      extensions = parsed.offers;
    }

    const request: HandshakeRequest = {
      ...requestHead(requestLine, raw, headers, host),
      key,
      version: 13,
      origin: getHeader(headers, 'origin'),
      subprotocols: subprotocols === undefined ? [] : [...subprotocols],
      extensions,
    };
    return { kind: 'request', request, rest };
  }

  #completePlain(requestLine: RequestLine, raw: [string, string][], headers: Record<string, string>, rest: Uint8Array): ServerRequestResult {
    const hostCount = countHeader(raw, 'host');
    const host = getHeader(headers, 'host') ?? '';
    if (hostCount > 1) return reject(400, 'Repeated Host header');
    if (hostCount === 0 && !requestLine.belowHttp11) return reject(400, 'Missing Host header');
    if (hostCount === 1 && !isValidHost(host)) return reject(400, 'Invalid Host header');
    if (this.#plainHttpContent) return { kind: 'http', request: requestHead(requestLine, raw, headers, host), rest };

    if (getHeader(headers, 'transfer-encoding') !== undefined) {
      return reject(413, 'This server reads no request content (Transfer-Encoding)');
    }
    const contentLength = getHeader(headers, 'content-length');
    if (contentLength !== undefined) {
      const values = parseCommaList(contentLength);
      if (values.length === 0 || !values.every((v) => /^[0-9]+$/.test(v)) || new Set(values.map(BigInt)).size !== 1) {
        return reject(400, 'Invalid Content-Length header');
      }
      if (!/^0+$/.test(values[0]!)) return reject(413, 'This server reads no request content (Content-Length)');
    }

    const request = requestHead(requestLine, raw, headers, host);
    return { kind: 'http', request, rest };
  }
}

function requestHead(requestLine: RequestLine, rawHeaders: [string, string][], headers: Record<string, string>, host: string): HttpRequestHead {
  return {
    method: requestLine.method,
    resourceName: requestLine.target,
    path: requestLine.path,
    query: requestLine.query,
    httpVersion: requestLine.httpVersion,
    headers,
    rawHeaders,
    host,
  };
}

function reject(status: number, reason: string, headers: [string, string][] = []): Reject {
  return { kind: 'reject', status, reason, headers };
}

function versionTooLow(version: string): Reject {
  return reject(400, `HTTP/1.1 or later is required, got ${version}`);
}

function methodNotAllowed(method: string): Reject {
  return reject(405, `Method ${method} not allowed: use GET`, [['Allow', 'GET']]);
}

/**
 * Path and query of a request-target in origin-form (`/p?q`) or absolute-form (`ws://h/p?q`,
 * which RFC 9112 3.2.2 obliges a server to accept). Only visible ASCII, no fragment; the
 * asterisk and authority forms do not name a resource a GET can upgrade.
 */
function splitTarget(target: string): { path: string; query: string } | undefined {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) return undefined;
  }
  let pathAndQuery: string;
  if (target.startsWith('/')) {
    pathAndQuery = target;
  } else {
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(target);
    if (absolute === null) return undefined;
    pathAndQuery = target.slice(absolute[0].length);
    if (!pathAndQuery.startsWith('/')) pathAndQuery = `/${pathAndQuery}`;
  }
  const q = pathAndQuery.indexOf('?');
  if (q === -1) return { path: pathAndQuery, query: '' };
  return { path: pathAndQuery.slice(0, q), query: pathAndQuery.slice(q + 1) };
}
