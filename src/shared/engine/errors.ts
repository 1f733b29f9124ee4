import type { CloseCode } from './close-code.ts';

/**
 * Error kinds. The first group are Qt's `QAbstractSocket::SocketError` names without the `Error`
 * suffix; the second group names WebSocket-level failures that Qt folds into
 * `ConnectionRefusedError`, so that a caller can tell them apart.
 */
export const SocketError = {
  ConnectionRefused: 'ConnectionRefused',
  RemoteHostClosed: 'RemoteHostClosed',
  HostNotFound: 'HostNotFound',
  SocketAccess: 'SocketAccess',
  SocketResource: 'SocketResource',
  SocketTimeout: 'SocketTimeout',
  DatagramTooLarge: 'DatagramTooLarge',
  Network: 'Network',
  AddressInUse: 'AddressInUse',
  SocketAddressNotAvailable: 'SocketAddressNotAvailable',
  UnsupportedSocketOperation: 'UnsupportedSocketOperation',
  ProxyConnectionRefused: 'ProxyConnectionRefused',
  ProxyProtocol: 'ProxyProtocol',
  /** The proxy answered 407 and no credentials (or refused ones) were given. */
  ProxyAuthenticationRequired: 'ProxyAuthenticationRequired',
  SslHandshakeFailed: 'SslHandshakeFailed',
  Operation: 'Operation',
  UnknownSocket: 'UnknownSocket',
  // WebSocket level
  ProtocolViolation: 'ProtocolViolation',
  InvalidUtf8: 'InvalidUtf8',
  MessageTooBig: 'MessageTooBig',
  FrameTooBig: 'FrameTooBig',
  HandshakeFailed: 'HandshakeFailed',
  HandshakeTimeout: 'HandshakeTimeout',
  PolicyViolated: 'PolicyViolated',
  WorkerExited: 'WorkerExited',
  /** The server's handler module could not be loaded, or exports no function: its connections are dropped (1006). */
  HandlerFailed: 'HandlerFailed',
  /** The peer sent nothing for the idle timeout and did not answer the automatic Ping (1001). */
  IdleTimeout: 'IdleTimeout',
  /** A frame or a fragmented message stopped arriving for the frame timeout (1001, as Qt). */
  FrameTimeout: 'FrameTimeout',
} as const;
export type SocketError = (typeof SocketError)[keyof typeof SocketError];

/** The error object every signal and rejected promise carries. Plain data, so it crosses threads. */
export class WebSocketError extends Error {
  override readonly name = 'WebSocketError';
  readonly kind: SocketError;
  /** The close code this error led to, where it closed a connection. */
  readonly closeCode: CloseCode | undefined;

  constructor(kind: SocketError, message: string, closeCode?: CloseCode) {
    super(message);
    this.kind = kind;
    this.closeCode = closeCode;
  }

  toJSON(): WebSocketErrorData {
    return { kind: this.kind, message: this.message, closeCode: this.closeCode };
  }

  static fromJSON(data: WebSocketErrorData): WebSocketError {
    return new WebSocketError(data.kind, data.message, data.closeCode);
  }
}

export interface WebSocketErrorData {
  kind: SocketError;
  message: string;
  closeCode: CloseCode | undefined;
}

/** Thrown synchronously for a call with an argument that can never work (e.g. a frame size of 0). */
export class InvalidArgumentError extends RangeError {
  override readonly name = 'InvalidArgumentError';
}
