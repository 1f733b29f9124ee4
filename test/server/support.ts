/**
 * Helpers for the server tests: every test runs once per transport (`workers: 0`, everything on
 * the owner thread, and `workers: 2`, connections moved into a pool), with `ws` as the independent
 * client, raw TCP clients for what `ws` would never send, and bounded waits only.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import WS, { type ClientOptions } from 'ws';
import { WebSocketServer, type WebSocketServerOptions } from '../../src/main/websocket-server.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { within } from '../client/support.ts';
import { decodeFrames, type DecodedFrame } from '../helpers/frames.ts';

export { next, until, within, makeTestPki, hasOpenssl } from '../client/support.ts';

/** The two transports every server test runs over. */
export const Transports = [0, 2] as const;

export const EchoHandlerUrl = new URL('./fixtures/echo-handler.ts', import.meta.url);

/** Registers `body` as one test per transport, titled with the worker count. */
export function bothTransports(title: string, body: (t: ExecutionContext, workers: number) => Promise<void>, serial = false): void {
  for (const workers of Transports) {
    (serial ? test.serial : test)(`${title} [workers: ${workers}]`, (t) => body(t, workers));
  }
}

/** A listening server on 127.0.0.1, destroyed when the test ends. */
export async function startServer(
  t: ExecutionContext,
  workers: number,
  options: WebSocketServerOptions = {},
  secureMode: SecureMode = SecureMode.NonSecure,
): Promise<WebSocketServer> {
  const server = new WebSocketServer('wsthreads-test', secureMode, { workers, ...options });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  t.true(await server.listen('127.0.0.1', 0), server.errorString());
  return server;
}

/** Makes every connection of `server` echo text and binary messages (mirror mode). */
export function echoEveryConnection(server: WebSocketServer, onSocket?: (socket: WebSocket) => void): WebSocket[] {
  const sockets: WebSocket[] = [];
  server.on('newConnection', () => {
    const socket = server.nextPendingConnection()!;
    sockets.push(socket);
    socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
    socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data));
    onSocket?.(socket);
  });
  return sockets;
}

/** An open `ws` client, closed (terminated) when the test ends. */
export async function connect(t: ExecutionContext, url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<WS> {
  const client = new WS(url, protocols, options);
  t.teardown(() => client.terminate());
  await within(new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
    client.once('unexpected-response', (_request, response) => reject(new Error(`unexpected response ${response.statusCode}`)));
  }), 10_000, `the client to open ${url}`);
  return client;
}

/** The HTTP status a `ws` client gets instead of 101. */
export function refusalStatus(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<number> {
  const client = new WS(url, protocols, options);
  return within(new Promise<number>((resolve, reject) => {
    client.once('open', () => {
      client.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    client.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      client.terminate();
    });
    client.once('error', () => {});
  }), 10_000, 'the refusal');
}

/** The next message of `client`, as [data, isBinary]. */
export function nextMessage(client: WS, ms = 10_000): Promise<[Buffer, boolean]> {
  return within(new Promise((resolve) => client.once('message', (data, isBinary) => resolve([data as Buffer, isBinary]))), ms, 'a message');
}

/** The close code and reason `client` sees. */
export function closeOf(client: WS, ms = 10_000): Promise<[number, string]> {
  return within(new Promise((resolve) => client.once('close', (code, reason) => resolve([code, reason.toString()]))), ms, 'the client to close');
}

/** A valid upgrade request for `port`, with replacements/additions in `headers` (null removes). */
export function upgradeRequest(port: number, headers: Record<string, string | null> = {}, target = '/'): string {
  const fields: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = [`GET ${target} HTTP/1.1`];
  for (const [name, value] of Object.entries(fields)) if (value !== null) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export interface RawExchange {
  /** Everything the server sent until it closed (or until the head was complete, see `rawUpgrade`). */
  response: string;
  status: number;
  headers: Map<string, string>;
}

/** Sends `request` over raw TCP and reads the response head (the server may close after it). */
export async function rawUpgrade(t: ExecutionContext, port: number, request: string): Promise<RawExchange & { socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  socket.write(request);
  let received = Buffer.alloc(0);
  const head = await within(new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      resolve(received.subarray(0, end).toString('latin1'));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed without a response head; got ${JSON.stringify(received.toString('latin1'))}`)));
  }), 10_000, 'the response head');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { socket, response: head, status: Number(statusLine.split(' ')[1]), headers };
}

/** Resolves when `socket` closes, failing after `ms`. */
export function socketClosed(socket: net.Socket, ms = 10_000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return within(new Promise<void>((resolve) => socket.once('close', () => resolve())), ms, 'the TCP connection to close');
}

/** Every frame a raw client receives after the 101 (the response head, if read here, skipped), until its TCP connection closes. */
export function framesUntilClosed(socket: net.Socket, ms = 10_000): Promise<DecodedFrame[]> {
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
  return within(new Promise((resolve) => socket.once('close', () => {
    const start = received.indexOf('\r\n\r\n');
    resolve(decodeFrames(start === -1 ? received : received.subarray(start + 4)));
  })), ms, 'the server to close the raw client');
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inBatches<T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let nextIndex = 0;
  const runners = Array.from({ length: Math.min(limit, count) }, async () => {
    while (nextIndex < count) {
      const index = nextIndex++;
      results[index] = await task(index);
    }
  });
  await Promise.all(runners);
  return results;
}
