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
