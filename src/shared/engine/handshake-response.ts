/**
 * Server side of the opening handshake: the bytes of the answer, either the 101 that switches
 * the connection to WebSocket (RFC 6455 4.2.2 step 5) or an HTTP error after which the server
 * closes. Every header name and value is checked before it is written, so no caller input can
 * end a header early or inject one (InvalidArgumentError).
 */

import { acceptKey, isValidHandshakeKey } from './accept-key.ts';
import { InvalidArgumentError } from './errors.ts';
import type { ExtensionOffer } from './extension.ts';
import { formatExtensionHeader } from './extension-header.ts';
import { assertHeaderField, encodeLatin1, isToken, serializeHeaderBlock } from './http-headers.ts';

/** Reason phrases of RFC 9110 section 15 (and 6585 for 428/429/431, 7725 for 451). */
export const StatusText: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export interface AcceptResponseOptions {
  /** The client's Sec-WebSocket-Key. */
  key: string;
  /** The subprotocol chosen from the client's offer; no header when undefined or ''. */
  subprotocol?: string;
  /** The answers of the negotiated extensions, in order; no header when empty. */
  extensions?: readonly ExtensionOffer[];
  /** Sent as `Server:` when non-empty (Qt's serverName). */
  serverName?: string;
  /** Further fields, written after ours. */
  headers?: [string, string][];
}

/** Fields a caller may not add to a 101: the handshake's own, and body framing (none in 1xx). */
const RESERVED_IN_ACCEPT = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-version',
  'content-length',
  'transfer-encoding',
]);

/** Fields a caller may not add to an error response: we write them, and they frame the body. */
const RESERVED_IN_ERROR = new Set(['content-type', 'content-length', 'connection', 'transfer-encoding']);

/** `HTTP/1.1 101 Switching Protocols` with the headers of RFC 6455 4.2.2, in Qt's order. */
export function buildAcceptResponse(options: AcceptResponseOptions): Uint8Array {
  return encodeLatin1(acceptResponseText(options));
}

/**
 * The same 101 as text, every character one ISO-8859-1 byte: what a server writes to its socket
 * with the 'latin1' encoding, so that no buffer is made for the one response of each connection.
 */
export function acceptResponseText(options: AcceptResponseOptions): string {
  const { key, subprotocol, extensions, serverName, headers = [] } = options;
  if (typeof key !== 'string' || !isValidHandshakeKey(key)) {
    throw new InvalidArgumentError('key must be the client\'s Sec-WebSocket-Key: base64 of 16 bytes');
  }
  // Written as text directly (one per handshake, no list of fields): every connection has one.
  let text = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (subprotocol !== undefined && subprotocol !== '') {
    if (typeof subprotocol !== 'string' || !isToken(subprotocol)) {
      throw new InvalidArgumentError(`Invalid subprotocol ${JSON.stringify(subprotocol)}: must be an HTTP token`);
    }
    text += `Sec-WebSocket-Protocol: ${subprotocol}\r\n`;
  }
  if (extensions !== undefined && extensions.length > 0) {
    text += `Sec-WebSocket-Extensions: ${formatExtensionHeader(extensions)}\r\n`;
  }
  const hasServerName = serverName !== undefined && serverName !== '';
  if (hasServerName) {
    assertHeaderField('Server', serverName);
    text += `Server: ${serverName}\r\n`;
  }
  for (const [name, value] of headers) {
    assertHeaderField(name, value);
    const lower = name.toLowerCase();
    if (RESERVED_IN_ACCEPT.has(lower) || (hasServerName && lower === 'server')) {
      throw new InvalidArgumentError(`Header ${name} is set by the handshake itself and cannot be given`);
    }
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

/**
 * An HTTP error response whose body is `reason` as UTF-8 text, with `Connection: close`: after
 * it the server closes the connection. `status` must be a 3xx, 4xx or 5xx code (a 3xx lets a
 * server redirect with a `Location` header).
 */
export function buildErrorResponse(status: number, reason: string, headers: [string, string][] = []): Uint8Array {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw new InvalidArgumentError(`status must be an integer from 300 to 599, got ${status}`);
  }
  if (typeof reason !== 'string') throw new InvalidArgumentError('reason must be a string');
  const body = new TextEncoder().encode(reason);
  const fields: [string, string][] = [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.length)],
    ['Connection', 'close'],
  ];
  for (const [name, value] of headers) {
    assertHeaderField(name, value);
    if (RESERVED_IN_ERROR.has(name.toLowerCase())) {
      throw new InvalidArgumentError(`Header ${name} is set by the error response itself and cannot be given`);
    }
    fields.push([name, value]);
  }
  const phrase = StatusText[status];
  // The reason phrase is optional on the wire (RFC 9112 4); an unknown code goes without one.
  const head = serializeHeaderBlock(phrase === undefined ? `HTTP/1.1 ${status} ` : `HTTP/1.1 ${status} ${phrase}`, fields);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}
