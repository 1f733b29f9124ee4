import type { WebSocketError } from '../engine/errors.ts';
import type { RequestHeaders } from './header-text.ts';
import type { LivenessTimeoutName, LivenessTimeouts } from '../engine/liveness.ts';
import type { MaskGenerator } from '../engine/mask-generator.ts';

/**
 * The seam between the Qt-visible `WebSocket` and whatever moves its bytes. The `WebSocket` keeps
 * state, signals and getters; a backend runs (or reaches) a protocol engine:
 * - `EngineSocketBackend` runs the engine over a `net.Socket`/`tls.TLSSocket` in this thread
 *   (client sockets, server sockets with `workers: 0`, and sockets inside worker threads);
 * - the server's worker mirror forwards calls to an engine living in a worker thread.
 *
 * Everything that crosses this seam is plain data (strings, numbers, Uint8Array, arrays), so a
 * backend may forward it over a MessagePort unchanged.
 */

import type { PeerCertificate } from './peer-certificate.ts';

/** HTTP header fields in wire order, duplicates kept; names as received (compare case-insensitively). */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** The limits a `WebSocket` forwards to its engine. */
export type SocketLimitName = 'maxAllowedIncomingFrameSize' | 'maxAllowedIncomingMessageSize' | 'outgoingFrameSize';

/**
 * Signals a backend reports only while someone listens (`setOptionalSignals`): from another
 * thread each one costs a crossing, and a flood of unsolicited Pongs must not cross for nobody.
 */
export const OptionalSignal = { Pong: 1, BytesWritten: 2 } as const;

/** What a server decided for one connection: its limits and its liveness timeouts (absent: 0, off). */
export type ConnectionLimits = Record<SocketLimitName, number> & Partial<LivenessTimeouts>;

/** What the opening handshake established; the `WebSocket` getters read it. */
export interface ConnectionInfo {
  /** The `Origin` request header ('' when absent). */
  origin: string;
  /** The full request URL (`ws://host:port/path?q`); the server side rebuilds it from `Host` and the target. */
  requestUrl: string;
  /** The request target: path plus `?query` (Qt's server side returns the whole URL here; we do not). */
  resourceName: string;
  /** Every request header as sent (client) or received (server); read it with `headerListOf`. */
  requestHeaders: RequestHeaders;
  /** The negotiated subprotocol, '' if none. */
  subprotocol: string;
  /** The negotiated extensions, in order, each as its `Sec-WebSocket-Extensions` element (name and agreed parameters). */
  extensions: readonly string[];
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
  /** Server side: what the upgrade handler attached to the connection (undefined without one). */
  attachment?: unknown;
  /** Server side: the client's TLS certificate, when the server asked for one and got it. */
  peerCertificate?: PeerCertificate | null;
  /** Client side only: the handshake response. */
  responseStatus?: number;
  responseStatusText?: string;
  responseHeaders?: HeaderList;
}

/**
 * What a backend reports to its `WebSocket`. Calls arrive on the `WebSocket`'s thread, in order.
 * No call may be made synchronously from `SocketBackend.attach()`: listeners are added after it.
 */
export interface SocketSink {
  /** The handshake completed (for a backend attached while the `WebSocket` is `Connecting`). */
  connected(info: ConnectionInfo): void;
  textMessage(text: string): void;
  binaryMessage(data: Uint8Array): void;
  /** Only called while frame signals are enabled (`setFrameSignals(true)`). */
  textFrame(text: string, isLastFrame: boolean): void;
  binaryFrame(data: Uint8Array, isLastFrame: boolean): void;
  pong(elapsedMs: number, payload: Uint8Array): void;
  /** Wire bytes (frame headers included) handed to the OS since the last call. */
  bytesWritten(bytes: number): void;
  /** A protocol or transport failure; `disconnected` follows. */
  error(error: WebSocketError): void;
  /** The peer ended its side of the transport (TCP FIN): Qt's `readChannelFinished`. */
  readChannelFinished(): void;
  /** The closing handshake is under way (the peer's Close arrived, or the engine failed the connection). */
  closing(): void;
  /**
   * The transport is gone; the last call a backend makes. `code`/`reason` follow RFC 6455 7.1.5:
   * the code of the peer's Close frame (1005 if it had none), or 1006 if no Close frame arrived.
   */
  disconnected(code: number, reason: string): void;
  /**
   * For a sink whose listeners run elsewhere (another thread): resolves once everything reported
   * so far has been seen there, and the commands it led to applied; undefined when that is
   * already so. A sink without it is heard synchronously.
   */
  seen?(): Promise<void> | undefined;
}

/** The I/O side of one WebSocket connection. Every method is safe to call in any state. */
export interface SocketBackend {
  /** Starts delivering events to `sink` (asynchronously: never from within this call). Called once. */
  attach(sink: SocketSink): void;
  /** Payload bytes queued (0 unless the connection is open). `compress` false: past permessage-deflate. */
  sendText(text: string, compress?: boolean): number;
  /**
   * `shared`: write a large payload from `data` itself rather than a copy, where that saves one;
   * `data` must then not change until it is written.
   */
  sendBinary(data: Uint8Array, compress?: boolean, shared?: boolean): number;
  /** Payload cut to 125 bytes. */
  ping(payload: Uint8Array): void;
  /** Starts the closing handshake (reason cut to 123 bytes); `disconnected` follows. */
  close(code: number, reason: string): void;
  /** Drops the transport at once, discarding unwritten data; `disconnected(1006)` follows. */
  abort(): void;
  /** Resolves when every byte queued so far has been handed to the OS (or the transport is gone). */
  flush(): Promise<void>;
  /** Stops reading from the transport (TCP backpressure) until `resume()`. */
  pause(): void;
  resume(): void;
  /** Validation happens in the `WebSocket` (InvalidArgumentError); a backend applies the value. */
  setLimit(name: SocketLimitName, value: number): void;
  /** A liveness timeout in ms (0 disables it), validated by the `WebSocket`; applies at once. */
  setLivenessTimeout(name: LivenessTimeoutName, ms: number): void;
  /** Wire bytes queued and not yet handed to the OS (may lag for a backend in another thread). */
  bytesToWrite(): number;
  /** Whether `textFrame`/`binaryFrame` are reported: decoding frames on their own costs time. */
  setFrameSignals(enabled: boolean): void;
  /** Which `OptionalSignal`s are reported (bits); a backend starts with none of them. */
  setOptionalSignals(signals: number): void;
  /** The mask keys of a client's frames from now on (a server never masks: nothing to do). */
  setMaskGenerator(generator: MaskGenerator): void;
}

/** A sink for a backend whose connection nobody will see (refused or abandoned after the 101). */
export const SilentSink: SocketSink = {
  connected(): void {},
  textMessage(): void {},
  binaryMessage(): void {},
  textFrame(): void {},
  binaryFrame(): void {},
  pong(): void {},
  bytesWritten(): void {},
  error(): void {},
  readChannelFinished(): void {},
  closing(): void {},
  disconnected(): void {},
};
