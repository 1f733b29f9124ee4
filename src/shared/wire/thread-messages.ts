/**
 * Every message that crosses between the owner thread and a worker thread, as TypeScript types.
 * All of it is structured-clone data (strings, numbers, arrays, Uint8Array, plain objects); the
 * only handles are the ones listed in `ConnectionTask` and the thread link's port.
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
// Signals: worker -> owner, batched per event-loop turn

/**
 * The `SocketSink` calls, as numbers: a batch is a flat array `[call, ...args, call, ...args]`
 * with the fixed arity below. A flat array of primitives clones much faster than an array of
 * objects, and one batch carries every event of one event-loop turn in order.
 */
export const SinkCall = {
  /** (info: ConnectionInfo) */
  Connected: 0,
  /** (text: string) */
  Text: 1,
  /** (data: Uint8Array) */
  Binary: 2,
  /** (text: string, isLastFrame: boolean) */
  TextFrame: 3,
  /** (data: Uint8Array, isLastFrame: boolean) */
  BinaryFrame: 4,
  /** (elapsedMs: number, payload: Uint8Array) */
  Pong: 5,
  /** (bytes: number) */
  BytesWritten: 6,
  /** (error: WebSocketErrorData) */
  Error: 7,
  /** () */
  Closing: 8,
  /** (code: number, reason: string) */
  Disconnected: 9,
} as const;
export type SinkCall = (typeof SinkCall)[keyof typeof SinkCall];

/** Arguments each SinkCall carries in a flat batch, indexed by the call number. */
export const SinkCallArity: readonly number[] = [1, 1, 1, 2, 2, 2, 1, 1, 0, 2];

/** Where one connection's worker side stands, as the owner's mirror needs it. */
export interface WorkerStatus {
  /** The last command batch of this connection the worker applied (0 before any). */
  appliedSeq: number;
  /** Wire bytes queued in the worker and not yet handed to the OS. */
  bytesToWrite: number;
}

/**
 * One worker event-loop turn of one thread: flat `[connectionId, appliedSeq, bytesToWrite,
 * calls]*`, where `calls` is that connection's flat `[SinkCall, ...args]*` for the turn.
 */
export interface ThreadSignalBatch {
  entries: unknown[];
}

// ---------------------------------------------------------------------------------------------
// Commands: owner -> worker, batched per event-loop turn

/** The `SocketBackend` calls the owner makes, as numbers, in a flat array like SinkCall. */
export const BackendCall = {
  /** (text: string) */
  SendText: 0,
  /** (data: Uint8Array) */
  SendBinary: 1,
  /** (payload: Uint8Array) */
  Ping: 2,
  /** (code: number, reason: string) */
  Close: 3,
  /** () */
  Abort: 4,
  /** () */
  Pause: 5,
  /** () */
  Resume: 6,
  /** (name: SocketLimitName, value: number) */
  SetLimit: 7,
  /** (enabled: boolean) */
  FrameSignals: 8,
} as const;
export type BackendCall = (typeof BackendCall)[keyof typeof BackendCall];

/**
 * One owner event-loop turn of commands for one thread: flat `[connectionId, seq, calls]*`; `seq`
 * increases by one per batch of a connection, so that `WorkerStatus.appliedSeq` can be matched.
 */
export interface ThreadCommandBatch {
  entries: unknown[];
}

/** Statuses of the connections a command batch touched: flat `[connectionId, appliedSeq, bytesToWrite]*`. */
export type ThreadStatusList = number[];

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
