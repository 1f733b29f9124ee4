// The package entry: a plain list of re-exports (one line per module keeps merges easy).
export { WebSocket, ClientDefaults, type WebSocketEvents, type WebSocketOptions, type OpenOptions, type OpenRequest, type HandshakeResponseInfo, type RequestInfo, type AdoptOptions } from './shared/connection/websocket.ts';
export { MessageIterator, DefaultMessageQueueLimits, type Message, type MessageQueueLimits } from './shared/connection/websocket-messages.ts';
export type { SocketBackend, SocketSink, SocketLimitName, ConnectionInfo, HeaderList } from './shared/connection/socket-backend.ts';
export { EngineSocketBackend, DefaultCloseTimeoutMs, type EngineSocketBackendOptions } from './shared/connection/engine-socket-backend.ts';
export type { SslConfiguration, SslError, ProxyConfiguration } from './shared/connection/client-connect.ts';
export { CloseCode, isValidWireCloseCode } from './shared/engine/close-code.ts';
export { SocketError, WebSocketError, InvalidArgumentError, type WebSocketErrorData } from './shared/engine/errors.ts';
export { State, SecureMode, Role } from './shared/engine/state.ts';
export { Signal } from './shared/engine/signals.ts';
export { Defaults, MaxFrameSize } from './shared/engine/limits.ts';
export { DefaultMaskGenerator, type MaskGenerator } from './shared/engine/mask-generator.ts';
export type { Extension, ExtensionFactory, ExtensionOffer } from './shared/engine/extension.ts';
export { WebSocketServer, ServerDefaults, type WebSocketServerEvents, type WebSocketServerOptions } from './main/websocket-server.ts';
export { WebSocketCorsAuthenticator } from './main/cors-authenticator.ts';
export type { HttpRequest, HttpResponse, HttpRequestHandler } from './shared/connection/http-response.ts';
export { canTransferSockets, defaultWorkerCount, SocketTransferMinVersion } from './main/pool-support.ts';
export type { ThreadTrafficStats } from './main/pool-thread-link.ts';
export type { ConnectionHandler, HandlerContext } from './shared/connection/handler-host.ts';
