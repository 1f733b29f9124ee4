/**
 * src/shared/wire: what crosses between the owner thread and a pool thread, as data. This file
 * holds the pool's set-up, the thread link's task, the handshake decision and the link's
 * message types; the batch formats have modules of their own, each with its writer and reader side
 * by side: signal-batch.ts (worker -> owner signals), command-batch.ts (owner -> worker
 * commands), handshake-batch.ts (the opening handshakes, both ways), topic-batch.ts (published
 * messages and subscription changes, both ways).
 *
 * All of it is structured-clone data (strings, numbers, arrays, Uint8Array, plain objects); the
 * only handles are the thread link's port and the sockets of an `AdoptBatch`.
 *
 * One channel per pool thread (the thread link), a transferred MessagePort, carries everything
 * of every connection of that thread as typed one-way messages (`OwnerLinkMessage`,
 * `WorkerLinkMessage`): per owner turn at most one message with the fresh sockets for the thread
 * and one with the answers and commands; per worker turn one with the handshake questions,
 * signals and command statuses. A message carries a turn's worth of every connection of the
 * thread, and a connection costs no port, no proxy and no Piscina task of its own.
 *
 * Why not Comlink here (design.md's first choice): every Comlink call is answered, so each
 * batch cost a second message and a promise, plus a UUID and a proxy lookup; measured with
 * `npm run bench:connections`, those calls were most of the owner's CPU per connection. The
 * messages stay typed, and acknowledgements ride on the next message the other way.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { ConnectionLimits } from '../connection/socket-backend.ts';
import type { TlsAlert } from '../connection/tls-alert.ts';
import type { DeflateSettings } from '../engine/permessage-deflate.ts';
import type { PeerCertificate, PeerVerifyMode } from '../connection/peer-certificate.ts';
import type { ThreadSignalBatch, WorkerStatus } from './signal-batch.ts';
import type { ThreadCommandBatch, ThreadStatusList } from './command-batch.ts';
import type { WorkerTopicBatch } from './topic-batch.ts';
import type { WebSocketErrorData } from '../engine/errors.ts';

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
 * The one Piscina task of a pool thread: it makes the thread's end of the link on `port` and
 * resolves with the thread's id; the link then lives as long as the thread.
 */
export interface ThreadLinkTask {
  port: MessagePort;
}

/** Freshly accepted sockets (accepted with `pauseOnConnect`: nothing read, nothing written) for one thread. */
export interface AdoptBatch {
  sockets: Socket[];
  /** The connection id of each socket, in the same order. */
  connectionIds: number[];
  /** The settings of the moment the batch left (Qt: setters affect new handshakes). */
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
  /** Ms a connection's output may wait to share one write with what follows (0: the end of the turn). */
  writeDelayMs: number;
  /** The server has an httpRequestHandler: a request that is no upgrade goes to the owner, not 400. */
  plainHttp: boolean;
  /**
   * The server's TLS configuration (SecureMode.Secure), numbered: generation 0 is
   * `PoolWorkerData.tls`, and each `setSslConfiguration` makes the next. A thread link sends it
   * with the first sockets after it changed (and strips it otherwise), and the thread builds its
   * SecureContext anew, so a new certificate reaches every thread and no live connection is touched.
   */
  tls: TlsGeneration | undefined;
  /** permessage-deflate as the server offers it; null: declined. */
  deflate: DeflateSettings | null;
  /**
   * The server has an http.Server for plain requests: a request that is no upgrade hands its
   * connection over to it (content, keep-alive and all), relayed through the owner from a pool
   * thread. Takes precedence over `plainHttp`.
   */
  httpHandOver: boolean;
  /** Whether TLS asks the client for a certificate, and whether it must be valid (Qt's peerVerifyMode). */
  peerVerifyMode: PeerVerifyMode;
  /**
   * The owner's answer to every upgrade request while nothing on it has a say (see
   * `StandingAcceptance`): the connection side accepts alone, without asking; null: ask.
   */
  standing: StandingAcceptance | null;
}

/**
 * What the owner would answer to any upgrade request when the server runs a handler module and
 * nobody on the owner decides (no `originAuthenticationRequired` listener, no upgrade handler)
 * and there is no pending queue to reserve a place in: accept, with the first offered
 * subprotocol the server supports. Sent with the settings and withdrawn as soon as a listener or
 * an upgrade handler appears (a request decided in the moment between is accepted, as one
 * decided just before would have been); it saves the owner a question and an answer per
 * connection.
 */
export interface StandingAcceptance {
  supportedSubprotocols: readonly string[];
  serverName: string;
  limits: ConnectionLimits;
  /**
   * The owner has a `newConnection` listener, so it makes a lifecycle view of each connection and
   * needs what the handshake established; without one, the thread only counts the connection
   * (see CountedNews).
   */
  observed: boolean;
}

/** One generation of the server's TLS configuration (see `ConnectionSettings.tls`). */
export interface TlsGeneration {
  generation: number;
  tls: SecureContextOptions;
}

// ---------------------------------------------------------------------------------------------
// Opening handshake: the worker parses, the owner decides

/** What the owner needs to decide on an upgrade request and to fill the owner-side WebSocket. */
export interface HandshakeSummary {
  /** The worker thread that holds the connection (0 for the owner thread, i.e. `workers: 0`). */
  threadId: number;
  /** The request method (always GET: anything else is refused before the owner is asked). */
  method: string;
  /** `Origin` header value ('' when absent). */
  origin: string;
  /** Path plus `?query`, as in the request line (origin-form). */
  resourceName: string;
  /** `ws://host/path?q` or `wss://…`, rebuilt from `Host` and the request target. */
  requestUrl: string;
  /** The request's header fields as header text (header-text.ts): one string to clone. */
  requestHeaders: string;
  /** `Sec-WebSocket-Protocol` offers, in the client's order of preference. */
  subprotocols: string[];
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
  /** Whether it came over TLS. */
  secure: boolean;
  /** The client's certificate, when the server asks for one (peerVerifyMode) and the client gave one. */
  peerCertificate: PeerCertificate | null;
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
    limits: ConnectionLimits;
    /** Whether the owner wants frame signals from the start. */
    frameSignals: boolean;
    /** Further fields of the 101 (`Set-Cookie`, say), checked where the 101 is built. */
    headers?: Array<[string, string]>;
    /** What the upgrade handler attached (structured-clone data); it travels with the connection. */
    attachment?: unknown;
  }
  | {
    accept: false;
    status: number;
    /** The response body (text). */
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
  /** The TLS handshake failed because the client sent this fatal alert (e.g. it does not trust our certificate). */
  tlsAlert?: TlsAlert;
}

// ---------------------------------------------------------------------------------------------
// The thread link's messages

/**
 * Owner -> worker, on the thread link. At most one `adopt` and one `turn` per owner turn; a
 * `flush` whenever a socket asks for one.
 */
export type OwnerLinkMessage =
  | { kind: 'adopt'; batch: AdoptBatch }
  /**
   * The handshake answers and commands of one owner turn, and how many worker turns it has read;
   * `published`: the turn's messages for the thread's subscribers (topic-batch.ts), delivered
   * after the commands (so a subscribe of the same turn already counts).
   */
  | ({ kind: 'turn'; acks: number; published?: unknown[] } & ThreadCommandBatch)
  | { kind: 'flush'; requestId: number; connectionId: number }
  /** How much the thread's end holds (connections, open questions): for checks that nothing leaks. */
  | { kind: 'census'; requestId: number }
  /** Accept connections in the thread itself, on a port the owner has bound (see ThreadListenSpec). */
  | { kind: 'listen'; requestId: number; spec: ThreadListenSpec; settings: ConnectionSettings; idSlot: number }
  /** The settings for the thread's next accepted connections changed (a setter on the owner). */
  | { kind: 'listenSettings'; settings: ConnectionSettings }
  /** `pauseAccepting()` / `resumeAccepting()`: accepted sockets are held unread while paused. */
  | { kind: 'accepting'; paused: boolean }
  /** Stop accepting (`close()`): the thread's listener closes (answered with `unlistened`); its connections stay up. */
  | { kind: 'unlisten'; requestId: number }
  /**
   * `closeAllConnections()`: close every counted connection (see CountedNews) with this code and
   * reason; answered in `CountedNews.closed` once all of them have ended.
   */
  | { kind: 'closeCounted'; requestId: number; code: number; reason: string }
  /** `closeAllConnections()` past its timeout: drop every counted connection still open. */
  | { kind: 'abortCounted' };

/**
 * One worker turn's news of its counted connections: those it serves with the handler module
 * and that nobody on the owner observes (the standing acceptance took them and the server has no
 * `newConnection` listener). The owner keeps a count of them per thread, not a record each: how
 * many opened and ended this turn, each failure of their handler module, and the `closeCounted`
 * requests whose connections have all ended (after those ends are counted).
 */
export interface CountedNews {
  /** Connections the thread accepted itself. */
  opened: number;
  /** Connections the owner moved here (it has a record of each until now: it drops them). */
  fromOwner: number[];
  ended: number;
  failures: WebSocketErrorData[];
  closed: number[];
}

/**
 * Where a pool thread listens when the threads accept (Linux's SO_REUSEPORT: every thread has a
 * listening socket on the same port and the kernel spreads new connections over them), so that
 * no connection costs the owner an accept or a socket transfer.
 */
export interface ThreadListenSpec {
  host: string;
  port: number;
  backlog: number;
  /** Sockets held unread while accepting is paused, beyond which new ones are dropped. */
  maxHeldWhilePaused: number;
}

/** Worker -> owner, on the thread link: at most one `turn` per worker turn, and flush answers. */
export type WorkerLinkMessage =
  /** The handshake questions and signals of one worker turn, and the statuses of the commands it applied. */
  | ({ kind: 'turn'; statuses: ThreadStatusList; topics?: WorkerTopicBatch; counted?: CountedNews } & ThreadSignalBatch)
  | { kind: 'flushed'; requestId: number; status: WorkerStatus }
  | { kind: 'census'; requestId: number; held: number }
  /** The answer to `listen`: listening, or the bind's error. */
  | { kind: 'listening'; requestId: number; error?: { code: string; message: string } }
  /** The answer to `unlisten`: the thread's listening socket is closed. */
  | { kind: 'unlistened'; requestId: number }
  /** The thread's listener failed to accept a connection (EMFILE, say): the server's `acceptError`. */
  | { kind: 'acceptError'; code: string };
