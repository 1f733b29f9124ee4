/**
 * Runs the user's handler module where the connections live: each pool thread imports it once
 * and gives it every connection of that thread as a worker-local `WebSocket` with the full API,
 * so message handling uses every core and no message crosses a thread.
 *
 * A handler module exports its handler as the default export (or as `handleConnection`):
 *
 *   export default function (socket: WebSocket, context: HandlerContext) {
 *     socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
 *   }
 *
 * A handler that throws (or returns a promise that rejects) fails its thread like any uncaught
 * error in a worker: that thread's connections end with 1006 on the owner, and the pool replaces
 * the thread. Connections on other threads are untouched.
 */
import { threadId } from 'node:worker_threads';
import { SilentSink, type ConnectionInfo, type SocketBackend, type ConnectionLimits } from './socket-backend.ts';
import { WebSocket } from './websocket.ts';
import { CloseCode } from '../engine/close-code.ts';
import { SocketError, WebSocketError } from '../engine/errors.ts';
import type { TopicMembership } from '../pubsub/topic-membership.ts';

export interface HandlerContext {
  /** The thread running this connection (0 on the owner thread). */
  threadId: number;
}

export type ConnectionHandler = (socket: WebSocket, context: HandlerContext) => void | Promise<void>;

const handlers = new Map<string, Promise<ConnectionHandler>>();
/**
 * The handlers whose module has loaded: a connection then goes to its handler at once, with no
 * promise of its own.
 */
const loadedHandlers = new Map<string, ConnectionHandler>();

/** Imports the module once per thread and finds its handler. */
export function loadHandler(url: string): Promise<ConnectionHandler> {
  let handler = handlers.get(url);
  if (handler === undefined) {
    handler = import(url).then((module: Record<string, unknown>) => {
      const candidate = module.default ?? module.handleConnection;
      if (typeof candidate !== 'function') {
        throw new TypeError(`Handler module ${url} must export a function (default export or handleConnection)`);
      }
      loadedHandlers.set(url, candidate as ConnectionHandler);
      return candidate as ConnectionHandler;
    });
    handlers.set(url, handler);
  }
  return handler;
}

/** Calls the handler; a failure of the handler is a failure of this thread (see above). */
export function runHandler(handler: ConnectionHandler, socket: WebSocket): void {
  let result: void | Promise<void>;
  try {
    result = handler(socket, { threadId });
  } catch (error) {
    // Thrown out of the caller's turn, as a rejection is below: whoever handed over the
    // connection (a handshake, a read) finishes first.
    queueMicrotask(() => { throw error; });
    return;
  }
  if (result instanceof Promise) {
    result.catch((error: unknown) => {
      queueMicrotask(() => { throw error; });
    });
  }
}

/** What the caller of `serveWithHandler` hears about the connection it gave away. */
export interface HandlerHostEvents {
  /** The connection's socket, made once the module has loaded, right before the handler runs. */
  adopted?(socket: WebSocket): void;
  /** The module could not be loaded: the connection is dropped (1006). */
  failed(error: WebSocketError): void;
  /** The server's topics as this socket reaches them. */
  topics?: TopicMembership;
}

/** Gives one connection to the handler module, on whichever thread holds it. */
export function serveWithHandler(
  backend: SocketBackend,
  info: ConnectionInfo,
  url: string,
  limits: ConnectionLimits,
  events: HandlerHostEvents,
): void {
  const loaded = loadedHandlers.get(url);
  if (loaded !== undefined) {
    serveNow(loaded, backend, info, limits, events);
    return;
  }
  loadHandler(url).then(
    (handler) => serveNow(handler, backend, info, limits, events),
    (error: unknown) => {
      // No handler, no service.
      events.failed(new WebSocketError(SocketError.HandlerFailed,
        `The handler module ${url} failed to load: ${(error as Error)?.message ?? String(error)}`, CloseCode.AbnormalDisconnection));
      backend.attach(SilentSink);
      backend.abort();
    },
  );
}

function serveNow(handler: ConnectionHandler, backend: SocketBackend, info: ConnectionInfo, limits: ConnectionLimits, events: HandlerHostEvents): void {
  const socket = WebSocket.adopt(backend, info, { ...limits, topics: events.topics });
  events.adopted?.(socket);
  runHandler(handler, socket);
}
