// The package entry: a plain list of re-exports (one line per module keeps merges easy).
// The declarations use Node's types (EventEmitter, net, tls); TypeScript 6+ loads them only when referenced.
/// <reference types="node" preserve="true" />
export { WebSocket, ClientDefaults, ProxyFromEnvironment, type WebSocketEvents, type WebSocketOptions, type OpenOptions, type OpenRequest, type WebSocketHandshakeOptions, type HandshakeResponseInfo, type RequestInfo, type AdoptOptions, type SendOptions } from './shared/connection/websocket.ts';
export { MessageIterator, DefaultMessageQueueLimits, type Message, type MessageQueueLimits, type MessageSource } from './shared/connection/websocket-messages.ts';
export type { SocketBackend, SocketSink, SocketLimitName, ConnectionInfo, HeaderList } from './shared/connection/socket-backend.ts';
export { EngineSocketBackend, DefaultCloseTimeoutMs, type EngineSocketBackendOptions, type LifecycleObserver } from './shared/connection/engine-socket-backend.ts';
export type { SslConfiguration, SslError, ProxyConfiguration } from './shared/connection/client-connect.ts';
export { AlertLevel, AlertType, type TlsAlert } from './shared/connection/tls-alert.ts';
export { PreSharedKeyAuthenticator } from './shared/connection/psk-authenticator.ts';
export { CloseCode, isValidWireCloseCode } from './shared/engine/close-code.ts';
export { SocketError, WebSocketError, InvalidArgumentError, type WebSocketErrorData } from './shared/engine/errors.ts';
export { State, SecureMode, Role, Version, PauseMode } from './shared/engine/state.ts';
export { Signal } from './shared/engine/signals.ts';
export { Defaults, MaxFrameSize } from './shared/engine/limits.ts';
export { DefaultMaskGenerator, type MaskGenerator, type RandomFill } from './shared/engine/mask-generator.ts';
export type { Extension, ExtensionFactory, ExtensionOffer } from './shared/engine/extension.ts';
export { DeflateMode, DeflateDefaults, clientPerMessageDeflate, type DeflateOption, type DeflateSettings, type DeflateOffer, type ClientDeflateOptions } from './shared/engine/permessage-deflate.ts';
export { WebSocketServer, ServerDefaults, type WebSocketServerEvents, type WebSocketServerOptions, type ServerCensus } from './main/websocket-server.ts';
export { WebSocketCorsAuthenticator } from './main/cors-authenticator.ts';
export type { HttpRequest, HttpResponse, HttpRequestHandler } from './shared/connection/http-response.ts';
export { canTransferSockets, defaultWorkerCount, SocketTransferMinVersion } from './main/pool-support.ts';
export type { ThreadTrafficStats } from './main/pool-thread-link.ts';
export type { ConnectionHandler, HandlerContext } from './shared/connection/handler-host.ts';
export type { PubSubStats } from './main/websocket-server.ts';
export { PubSubState, RedisDefaults, type RedisPubSubOptions, type RedisCounters } from './main/redis-bridge.ts';
export type { PubSubCounters } from './shared/pubsub/pubsub-stats.ts';
export type { UpgradeHandler, UpgradeRequest, UpgradeDecision, UpgradeAccepted, UpgradeRefused } from './main/upgrade-handler.ts';
export { PeerVerifyMode, type PeerCertificate } from './shared/connection/peer-certificate.ts';
export { Authenticator } from './shared/connection/authenticator.ts';
export { proxyFromEnvironment, parseProxyUrl } from './shared/connection/environment-proxy.ts';
export type { BenchReport, TimelineEntry, GeneratorUsage, ThresholdResult, LatencyMs } from './loadgen/bench-report.ts';
export type { LatencySummary, EncodedHistogram } from './loadgen/latency-histogram.ts';
export { BenchErrorKind } from './loadgen/generator-protocol.ts';
