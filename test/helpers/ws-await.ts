/** Awaiting `ws` client events with a bound: a missing event fails the test instead of hanging it. */
import WebSocket from 'ws';

export function withBound<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function openClient(url: string, ms = 5000, protocols?: string[]): Promise<WebSocket> {
  const socket = new WebSocket(url, protocols);
  return withBound(
    new Promise((resolve, reject) => {
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    }),
    ms,
    `open ${url}`,
  );
}

export function nextMessage(socket: WebSocket, ms = 5000): Promise<{ data: Buffer; isBinary: boolean }> {
  return withBound(
    new Promise((resolve) => socket.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }))),
    ms,
    'message',
  );
}

export function closed(socket: WebSocket, ms = 5000): Promise<{ code: number; reason: string }> {
  return withBound(
    new Promise((resolve) => socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))),
    ms,
    'close',
  );
}
