// The package entry: a plain list of re-exports (one line per module keeps merges easy).
export { WebSocket, ClientDefaults, type WebSocketEvents, type WebSocketOptions, type OpenOptions, type OpenRequest, type HandshakeResponseInfo, type RequestInfo, type AdoptOptions } from './main/websocket.ts';
export { MessageIterator, DefaultMessageQueueLimits, type Message, type MessageQueueLimits } from './main/websocket-messages.ts';
export type { SocketBackend, SocketSink, SocketLimitName, ConnectionInfo, HeaderList } from './main/socket-backend.ts';
export { EngineSocketBackend, DefaultCloseTimeoutMs, type EngineSocketBackendOptions } from './main/engine-socket-backend.ts';
export type { SslConfiguration, SslError, ProxyConfiguration } from './main/client-connect.ts';
export { CloseCode, isValidWireCloseCode } from './shared/close-code.ts';
export { SocketError, WebSocketError, InvalidArgumentError, type WebSocketErrorData } from './shared/errors.ts';
export { State, SecureMode, Role } from './shared/state.ts';
export { Signal } from './shared/signals.ts';
export { Defaults, MaxFrameSize } from './shared/limits.ts';
export { DefaultMaskGenerator, type MaskGenerator } from './shared/mask-generator.ts';
export type { Extension, ExtensionFactory, ExtensionOffer } from './shared/extension.ts';
export { WebSocketServer, ServerDefaults, type WebSocketServerEvents, type WebSocketServerOptions } from './main/websocket-server.ts';
export { WebSocketCorsAuthenticator } from './main/cors-authenticator.ts';
export type { HttpRequest, HttpResponse, HttpRequestHandler } from './main/http-response.ts';
export { canTransferSockets, defaultWorkerCount, SocketTransferMinVersion } from './main/pool-support.ts';
export type { ThreadTrafficStats } from './main/pool-thread-link.ts';
export type { ConnectionHandler, HandlerContext } from './workers/handler-host.ts';
