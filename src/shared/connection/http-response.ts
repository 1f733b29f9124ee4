/**
 * Plain HTTP on a WebSocketServer's port: what its `httpRequestHandler` receives and returns,
 * and the bytes of the response built from that. The server answers one request per connection
 * and closes it, so every response carries `Content-Length` and `Connection: close`.
 */
import { InvalidArgumentError } from '../engine/errors.ts';
import { assertHeaderField, serializeHeaderBlock } from '../engine/http-headers.ts';
import { StatusText } from '../engine/handshake-response.ts';
import type { HttpRequestHead } from '../engine/handshake-request.ts';

/**
 * A well-formed request that is not a WebSocket upgrade (it has no `Upgrade: websocket`): the
 * parsed head (any method; one with request content is answered 413 before this; HTTP/1.0 is
 * answered in HTTP/1.1, RFC 9110 6.2), and where it came from.
 */
export interface HttpRequest extends HttpRequestHead {
  /** Whether it came over TLS. */
  secure: boolean;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
}

export interface HttpResponse {
  /** 200 to 599. */
  status: number;
  /**
   * Sent in order. `Content-Length`, `Transfer-Encoding` and `Connection` are the server's and may
   * not be given; `Date` and `Server` (the server name) are added unless given.
   */
  headers?: Record<string, string> | Array<[string, string]>;
  /** A string goes out as UTF-8. Never sent for HEAD (its length still is) or with 204 and 304. */
  body?: string | Uint8Array;
}

/** Called on the owner thread for each plain request; a throw or rejection is answered 500. */
export type HttpRequestHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** Fields the server writes itself: they frame the body and end the connection. */
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection']);

/**
 * The whole response, head and body, in one fresh buffer (so it can be transferred to the thread
 * that writes it). Throws InvalidArgumentError for a response that cannot be sent as given.
 */
export function buildHttpResponse(method: string, response: HttpResponse, serverName: string): Uint8Array {
  if (response === null || typeof response !== 'object') {
    throw new InvalidArgumentError(`The handler must return an object with a status; got ${String(response)}`);
  }
  const { status } = response;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new InvalidArgumentError(`status must be an integer from 200 to 599; got ${String(status)}`);
  }
  const given = response.headers === undefined ? [] : Array.isArray(response.headers) ? response.headers : Object.entries(response.headers);
  const fields: [string, string][] = [];
  const names = new Set<string>();
  for (const field of given) {
    if (!Array.isArray(field) || field.length !== 2) throw new InvalidArgumentError('headers must be [name, value] pairs or an object');
    const [name, value] = field as [string, string];
    assertHeaderField(name, value);
    const lower = name.toLowerCase();
    if (RESERVED.has(lower)) throw new InvalidArgumentError(`Header ${name} is set by the server and cannot be given`);
    names.add(lower);
    fields.push([name, value]);
  }
  if (!names.has('date')) fields.unshift(['Date', new Date().toUTCString()]);
  if (!names.has('server') && serverName !== '') fields.unshift(['Server', serverName]);

  const body = bodyBytes(response.body);
  // RFC 9110 8.6: no Content-Length in a 204; 204 and 304 never have content (RFC 9110 15.3.5, 15.4.5).
  const hasContent = status !== 204 && status !== 304;
  if (hasContent) fields.push(['Content-Length', String(body.length)]);
  fields.push(['Connection', 'close']);
  // The phrase is optional on the wire (RFC 9112 4); the space before it is not.
  const phrase = StatusText[status] ?? '';
  const head = serializeHeaderBlock(`HTTP/1.1 ${status} ${phrase}`, fields);
  const sent = hasContent && method !== 'HEAD' ? body : new Uint8Array(0);
  const bytes = new Uint8Array(head.length + sent.length);
  bytes.set(head);
  bytes.set(sent, head.length);
  return bytes;
}

function bodyBytes(body: HttpResponse['body']): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  throw new InvalidArgumentError(`body must be a string or a Uint8Array; got ${typeof body}`);
}
