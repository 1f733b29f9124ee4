/**
 * `workers: 0`: every connection runs on the owner thread, like `ws`. The same handshake and
 * engine code as in a pool thread, called directly instead of over a MessagePort, so the two
 * transports behave alike. Also the home of sockets that cannot move to a worker (an
 * `http.Server` 'upgrade' socket has been read already, and Node transfers only fresh sockets).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { ConnectionSettings, HandshakeDecision, HandshakeFailure, HandshakeSummary } from '../shared/wire/thread-messages.ts';
import type { HttpRequest } from '../shared/connection/http-response.ts';
import { createServerBackend, serverConnectionInfo } from '../shared/connection/server-connection.ts';
import { startServerHandshake, type HandedOverSocket, type HandshakeHost, type UpgradedConnection } from '../shared/connection/server-handshake.ts';
import type { ServerConnectionHost } from './server-connection-host.ts';

/** Tells the server that connection `id` ended: a record per connection rather than a closure. */
class ConnectionEnd {
  readonly #host: ServerConnectionHost;
  readonly #id: number;

  constructor(host: ServerConnectionHost, id: number) {
    this.#host = host;
    this.#id = id;
  }

  disconnected(): void {
    this.#host.ended(this.#id);
  }
}

/** The owner's side of the handshakes it runs: each question goes to the server as it is. */
export class InlineTransport implements HandshakeHost {
  readonly threadId = 0;
  readonly #host: ServerConnectionHost;
  readonly #secureContext: () => SecureContext | undefined;
  /** Sockets still in their opening handshake, so that shutting down can drop them. */
  readonly #handshaking = new Map<number, Socket>();

  constructor(host: ServerConnectionHost, secureContext: () => SecureContext | undefined) {
    this.#host = host;
    this.#secureContext = secureContext;
  }

  /**
   * @param handedOver for a socket an http(s).Server has read the request from: those bytes, and
   *   whether it is a TLS socket already (then no TLS of ours, whatever the secure mode: the
   *   request came over the server's connection as it is)
   */
  adopt(socket: Socket, id: number, settings: ConnectionSettings, handedOver?: HandedOverSocket): void {
    this.#handshaking.set(id, socket);
    startServerHandshake(this, id, socket, settings, handedOver === undefined ? this.#secureContext() : undefined, handedOver);
  }

  decide(id: number, summary: HandshakeSummary): HandshakeDecision | Promise<HandshakeDecision> {
    return this.#host.decide(id, summary);
  }

  handshakeFailed(id: number, failure: HandshakeFailure): void {
    this.#host.handshakeFailed(id, failure);
  }

  httpRequest(id: number, request: HttpRequest): Promise<Uint8Array> {
    return this.#host.httpRequest(id, request);
  }

  handOver(id: number, stream: Duplex, received: Uint8Array): void {
    // The socket itself goes to the http.Server, with what was read put back first.
    stream.unshift(received);
    this.#host.httpHandedOver(id, stream);
    stream.resume();
  }

  handshakeDone(id: number, settings: ConnectionSettings, upgraded: UpgradedConnection | null): void {
    this.#handshaking.delete(id);
    if (upgraded === null) {
      this.#host.ended(id);
      return;
    }
    const backend = createServerBackend(upgraded, settings);
    backend.observeLifecycle(new ConnectionEnd(this.#host, id));
    this.#host.upgraded(id, 0, backend, serverConnectionInfo(upgraded), upgraded.decision.limits);
  }

  /** Drops every connection still in its opening handshake. */
  dropHandshakes(): void {
    for (const socket of this.#handshaking.values()) socket.destroy();
  }
}
