/** Qt's `QAbstractSocket::SocketState`, restricted to the states a WebSocket goes through. */
export const State = {
  Unconnected: 'Unconnected',
  Connecting: 'Connecting',
  Connected: 'Connected',
  Closing: 'Closing',
} as const;
export type State = (typeof State)[keyof typeof State];

/** Qt's `QWebSocketServer::SslMode`. */
export const SecureMode = {
  Secure: 'Secure',
  NonSecure: 'NonSecure',
} as const;
export type SecureMode = (typeof SecureMode)[keyof typeof SecureMode];

/** Which end of the connection an engine plays: it decides the masking rules. */
export const Role = {
  Server: 'server',
  Client: 'client',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/**
 * Qt's `QWebSocketProtocol::Version`. Only 13 (RFC 6455) is spoken: whatever a client's
 * `version()` says, its request carries `Sec-WebSocket-Version: 13` (as Qt's).
 */
export const Version = {
  Unknown: -1,
  V0: 0,
  V4: 4,
  V5: 5,
  V6: 6,
  V7: 7,
  V8: 8,
  V13: 13,
  Latest: 13,
} as const;
export type Version = (typeof Version)[keyof typeof Version];

/** Qt's `QAbstractSocket::PauseMode` flags. */
export const PauseMode = {
  PauseNever: 0,
  /** After `sslErrors`, a client waits for `resume()` (having ignored them) or `abort()`. */
  PauseOnSslErrors: 1,
} as const;
export type PauseMode = (typeof PauseMode)[keyof typeof PauseMode];
