/** Signal (event) names, as Qt names its signals. */
export const Signal = {
  AboutToClose: 'aboutToClose',
  Connected: 'connected',
  Disconnected: 'disconnected',
  StateChanged: 'stateChanged',
  TextFrameReceived: 'textFrameReceived',
  BinaryFrameReceived: 'binaryFrameReceived',
  TextMessageReceived: 'textMessageReceived',
  BinaryMessageReceived: 'binaryMessageReceived',
  Pong: 'pong',
  BytesWritten: 'bytesWritten',
  ErrorOccurred: 'errorOccurred',
  SslErrors: 'sslErrors',
  ReadChannelFinished: 'readChannelFinished',
  PeerVerifyError: 'peerVerifyError',
  HandshakeInterruptedOnError: 'handshakeInterruptedOnError',
  AlertReceived: 'alertReceived',
  PreSharedKeyAuthenticationRequired: 'preSharedKeyAuthenticationRequired',
  AuthenticationRequired: 'authenticationRequired',
  ProxyAuthenticationRequired: 'proxyAuthenticationRequired',
  // QWebSocketServer
  NewConnection: 'newConnection',
  AcceptError: 'acceptError',
  ServerError: 'serverError',
  OriginAuthenticationRequired: 'originAuthenticationRequired',
  Closed: 'closed',
  // ours: publish/subscribe over Redis
  PubSubStateChanged: 'pubsubStateChanged',
} as const;
export type Signal = (typeof Signal)[keyof typeof Signal];
