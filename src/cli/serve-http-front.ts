/**
 * How `wsthreads serve` answers plain HTTP (the status page) on the port of its WebSocket server.
 *
 * The WebSocketServer moves each accepted socket to a worker thread before reading a byte (Node
 * can only transfer a socket nothing has been read from), so it cannot tell a page request from
 * an upgrade, and it has no hook for plain HTTP yet. Until it has one, this front takes the port:
 * an http.Server answers page requests itself, and relays each upgrade request, byte for byte, to
 * the WebSocketServer listening on a private loopback port. The relayed socket is fresh on that
 * side, so the connection still lives in a worker thread; the cost is one TCP relay hop on the
 * owner thread. `serve --no-page` skips the front and lets the WebSocketServer take the port.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export interface PageResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The page server: GET/HEAD of / (or /index.html) is the page; anything else 404 or 405. */
export function pageResponse(method: string, path: string, page: string): PageResponse {
  if (method !== 'GET' && method !== 'HEAD') {
    return { status: 405, headers: { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Method Not Allowed\n' };
  }
  const pathname = path.split('?')[0];
  if (pathname !== '/' && pathname !== '/index.html') {
    return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Not Found\n' };
  }
  return {
    status: 200,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
    body: page,
  };
}

function answer(request: IncomingMessage, response: ServerResponse, page: string): void {
  const result = pageResponse(request.method ?? 'GET', request.url ?? '/', page);
  const body = Buffer.from(result.body, 'utf8');
  response.writeHead(result.status, { ...result.headers, 'Content-Length': String(body.byteLength) });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** The request line and header block as the client sent them (names' case and order kept). */
function requestHead(request: IncomingMessage): Buffer {
  const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** Pipes an upgrade to the WebSocketServer; either side ending or failing ends both. */
function relayUpgrade(request: IncomingMessage, client: Duplex, head: Buffer, upstreamPort: number, relays: Set<Duplex>): void {
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  relays.add(client);
  const end = (): void => {
    relays.delete(client);
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
  (client as net.Socket).setNoDelay?.(true);
  upstream.write(head.byteLength > 0 ? Buffer.concat([requestHead(request), head]) : requestHead(request));
  client.pipe(upstream);
  upstream.pipe(client);
}

export interface HttpFront {
  server: Server;
  /** Destroys relays that are still open (after the WebSocket server closed its connections). */
  dropRelays(): void;
}

export function createHttpFront(page: string, upstreamPort: number): HttpFront {
  const relays = new Set<Duplex>();
  const server = createServer({ noDelay: true }, (request, response) => answer(request, response, page));
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => relayUpgrade(request, socket, head, upstreamPort, relays));
  return {
    server,
    dropRelays: () => {
      for (const relay of relays) relay.destroy();
      relays.clear();
    },
  };
}
