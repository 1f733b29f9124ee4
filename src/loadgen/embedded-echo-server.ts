/**
 * The target of `wsthreads bench` without a URL: a wsthreads echo server on a free loopback port,
 * in this process, with the echo handler running in its worker threads.
 */
import { WebSocketServer } from '../main/websocket-server.ts';
import { SocketError, WebSocketError } from '../shared/engine/errors.ts';
import { SecureMode } from '../shared/engine/state.ts';

/** Same extension as this module: .ts when run from source, .js from dist. */
const extension = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
export const ECHO_HANDLER_URL = new URL(`../handlers/echo${extension}`, import.meta.url);

export interface EmbeddedServer {
  /** ws://127.0.0.1:PORT/ */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedEchoServer(options: { workers: number }): Promise<EmbeddedServer> {
  const server = new WebSocketServer('wsthreads bench', SecureMode.NonSecure, {
    workers: options.workers,
    // Every thread up before the load: a target that starts threads under it would measure its start.
    minWorkers: Math.max(1, options.workers),
    handler: ECHO_HANDLER_URL,
  });
  if (!(await server.listen('127.0.0.1', 0))) {
    await server.destroy();
    throw new WebSocketError(SocketError.SocketResource, `the embedded echo server could not listen: ${server.errorString()}`);
  }
  return { url: `${server.serverUrl()}/`, close: () => server.destroy() };
}
