/**
 * What turns an upgraded socket into a running server connection, the same in a pool thread and
 * on the owner thread (`workers: 0`): the engine over the socket with the limits the owner chose,
 * bounded by the high-water mark, and the `ConnectionInfo` every `WebSocket` getter reads.
 */
import { EngineSocketBackend } from './engine-socket-backend.ts';
import type { ConnectionInfo } from './socket-backend.ts';
import { Role } from '../engine/state.ts';
import type { ConnectionSettings, HandshakeSummary } from '../wire/thread-messages.ts';
import type { AcceptDecision, UpgradedConnection } from './server-handshake.ts';

export function createServerBackend(upgraded: UpgradedConnection, settings: ConnectionSettings): EngineSocketBackend {
  const { decision } = upgraded;
  const engine = new EngineSocketBackend(upgraded.stream, {
    role: Role.Server,
    maxAllowedIncomingFrameSize: decision.limits.maxAllowedIncomingFrameSize,
    maxAllowedIncomingMessageSize: decision.limits.maxAllowedIncomingMessageSize,
    outgoingFrameSize: decision.limits.outgoingFrameSize,
    idleTimeout: decision.limits.idleTimeout,
    pongTimeout: decision.limits.pongTimeout,
    frameTimeout: decision.limits.frameTimeout,
    extensions: upgraded.extensions,
  }, upgraded.rest, { closeTimeoutMs: settings.closeTimeoutMs, highWaterMark: settings.highWaterMark, writeDelayMs: settings.writeDelayMs });
  if (decision.frameSignals) engine.setFrameSignals(true);
  return engine;
}

export function serverConnectionInfo(upgraded: UpgradedConnection): ConnectionInfo {
  return connectionInfoOf(upgraded.summary, upgraded.decision, upgraded.agreedExtensions);
}

/**
 * A connection's info from its request, the decision on it and the extensions its 101 agreed:
 * made alike in the thread that ran the handshake and on the owner, which had the first two
 * already when it decided.
 */
export function connectionInfoOf(summary: HandshakeSummary, decision: Pick<AcceptDecision, 'subprotocol' | 'attachment'>, extensions: readonly string[]): ConnectionInfo {
  return {
    origin: summary.origin,
    requestUrl: summary.requestUrl,
    resourceName: summary.resourceName,
    requestHeaders: summary.requestHeaders,
    subprotocol: decision.subprotocol,
    extensions,
    peerAddress: summary.peerAddress,
    peerPort: summary.peerPort,
    localAddress: summary.localAddress,
    localPort: summary.localPort,
    attachment: decision.attachment,
    peerCertificate: summary.peerCertificate,
  };
}
