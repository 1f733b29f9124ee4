/**
 * src/shared/wire: what crosses between the owner thread and a pool thread, as data. This file
 * holds the pool's set-up, the tasks, the handshake decision and the Comlink surfaces;
 * signal-batch.ts (worker -> owner) and command-batch.ts (owner -> worker) the batch formats,
 * each with its writer and reader side by side; comlink-port.ts the Comlink adapter.
 *
 * Every message that crosses between the owner thread and a worker thread, as TypeScript types.
 * All of it is structured-clone data (strings, numbers, arrays, Uint8Array, plain objects); the
 * only handles are the ones listed in `ConnectionTask` and the thread link's port.
 *
 * The batch formats of the thread link have modules of their own: signal-batch.ts (worker ->
 * owner) and command-batch.ts (owner -> worker).
 *
 * Two kinds of channel, both driven by Comlink over transferred MessagePorts:
 * - one port per connection, for its opening handshake only: the worker asks the owner for the
 *   decision (`OwnerConnectionApi`), and closes the port once the handshake is over;
 * - one port per worker thread (the thread link), for the traffic of every connection of that
 *   thread: one call per event-loop turn carries every signal of every connection of the thread
 *   (`OwnerThreadApi.signals`), and one call per owner turn every command for that thread
 *   (`WorkerThreadApi.commands`). design.md: a Comlink call costs ~15 µs, so calls must carry
 *   many events each; per thread they carry a turn's worth of every connection.
 * The first connection of a thread asks for the thread link over its connection port.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { HttpRequest } from '../connection/http-response.ts';
import type { HeaderList, SocketLimitName } from '../connection/socket-backend.ts';
import type { ThreadSignalBatch, WorkerStatus } from './signal-batch.ts';
import type { ThreadCommandBatch, ThreadStatusList } from './command-batch.ts';

// ---------------------------------------------------------------------------------------------
// Pool set-up and tasks

/** `workerData` of every pool thread: what is fixed for the server's life. */
export interface PoolWorkerData {
  /** TLS in the worker (SecureMode.Secure): each thread builds one SecureContext from this. */
  tls: SecureContextOptions | undefined;
  /** The user's handler module (href), loaded once per thread; undefined: mirror every socket to the owner. */
  handlerUrl: string | undefined;
}

/**
 * One Piscina task per connection: it resolves, with nothing, once the connection is over and the
 * owner has heard so (its last signal, or its failed handshake); a rejection is a failure.
 */
export interface ConnectionTask {
  /** A freshly accepted socket (accepted with `pauseOnConnect`: nothing read, nothing written). */
  socket: Socket;
  /** The worker's end of the connection's own port, used for the opening handshake only. */
  port: MessagePort;
  connectionId: number;
  /** The settings of the moment the connection was accepted (Qt: setters affect new handshakes). */
  settings: ConnectionSettings;
}

/** The per-connection settings the connection side needs before it can ask the owner anything. */
export interface ConnectionSettings {
  /** Milliseconds from accept until the 101 is written; <= 0 disables (Qt: negative disables). */
  handshakeTimeoutMs: number;
  /** Largest request header block; a larger one gets 431. */
  maxHeaderSize: number;
  /** Queued wire bytes beyond which a connection is closed with 1008. */
  highWaterMark: number;
  /** How long a connection closing with 1008 over the high-water mark may take before it is dropped. */
  closeTimeoutMs: number;
  /** The server has an httpRequestHandler: a request that is no upgrade goes to the owner, not 400. */
  plainHttp: boolean;
}

// ---------------------------------------------------------------------------------------------
// Opening handshake: the worker parses, the owner decides

/** What the owner needs to decide on an upgrade request and to fill the owner-side WebSocket. */
export interface HandshakeSummary {
  /** The worker thread that holds the connection (0 for the owner thread, i.e. `workers: 0`). */
  threadId: number;
  /** `Origin` header value ('' when absent). */
  origin: string;
  /** Path plus `?query`, as in the request line (origin-form). */
  resourceName: string;
  /** `ws://host/path?q` or `wss://…`, rebuilt from `Host` and the request target. */
  requestUrl: string;
  requestHeaders: HeaderList;
  /** `Sec-WebSocket-Protocol` offers, in the client's order of preference. */
  subprotocols: string[];
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
}

/** The owner's answer to one upgrade request. */
export type HandshakeDecision =
  | {
    accept: true;
    /** '' for none (the header is then left out, and the connection is still accepted, as Qt). */
    subprotocol: string;
    /** `Server:` header; left out when empty. */
    serverName: string;
    /** Engine limits for this connection at the time of the decision. */
    limits: Record<SocketLimitName, number>;
    /** Whether the owner wants frame signals from the start. */
    frameSignals: boolean;
  }
  | {
    accept: false;
    status: number;
    reason: string;
    headers?: Array<[string, string]>;
  };

/** A handshake that failed in the connection side, for the owner's `serverError`/counters. */
export interface HandshakeFailure {
  /** HTTP status sent, or 0 when the connection was dropped without a response. */
  status: number;
  reason: string;
  /** Qt's `serverError` code for this failure, or 0 when Qt emits none (malformed request, timeout). */
  serverErrorCode: number;
}

// ---------------------------------------------------------------------------------------------
// The Comlink surfaces

/** Exposed by the owner on its end of a connection's port (the opening handshake). */
export interface OwnerConnectionApi {
  /** The worker parsed a well-formed upgrade request: accept it or not. */
  decide(summary: HandshakeSummary): Promise<HandshakeDecision> | HandshakeDecision;
  /** The handshake failed before or after the decision (bad request, timeout, TLS failure, dropped). */
  handshakeFailed(failure: HandshakeFailure): void;
  /**
   * With `ConnectionSettings.plainHttp`: a well-formed request that is no upgrade. Returns the
   * whole response (head and body) to write before closing; the connection is then over.
   */
  httpRequest(request: HttpRequest): Promise<Uint8Array> | Uint8Array;
  /** The worker thread `threadId` has no link yet: the owner makes one and returns the worker's end. */
  threadLink(threadId: number): MessagePort | Promise<MessagePort>;
}

/** Exposed by the owner on its end of a thread link. */
export interface OwnerThreadApi {
  /** Every SocketSink call of one worker event-loop turn, for every connection of the thread. */
  signals(batch: ThreadSignalBatch): void;
}

/** Exposed by the worker on its end of a thread link. */
export interface WorkerThreadApi {
  /** Every SocketBackend call of one owner event-loop turn for this thread's connections. */
  commands(batch: ThreadCommandBatch): ThreadStatusList;
  /** Resolves when every byte queued so far on the connection has been handed to the OS (or it is gone). */
  flush(connectionId: number): Promise<WorkerStatus>;
}
