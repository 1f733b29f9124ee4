/**
 * `workers: 0`: every connection runs on the owner thread, like `ws`. The same handshake and
 * engine code as in a pool thread, called directly instead of over a MessagePort, so the two
 * transports behave alike. Also the home of sockets that cannot move to a worker (an
 * `http.Server` 'upgrade' socket has been read already, and Node transfers only fresh sockets).
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { ConnectionSettings } from '../shared/wire/thread-messages.ts';
import { createServerBackend, serverConnectionInfo } from '../shared/connection/server-connection.ts';
import { runServerHandshake } from '../shared/connection/server-handshake.ts';
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

export class InlineTransport {
  readonly #secureContext: () => SecureContext | undefined;
  /** Sockets still in their opening handshake, so that shutting down can drop them. */
  readonly #handshaking = new Set<Socket>();

  constructor(secureContext: () => SecureContext | undefined) {
    this.#secureContext = secureContext;
  }

  /**
   * @param handedOver for a socket an http(s).Server has read the request from: those bytes, and
   *   whether it is a TLS socket already (then no TLS of ours, whatever the secure mode: the
   *   request came over the server's connection as it is)
   */
  adopt(socket: Socket, id: number, settings: ConnectionSettings, host: ServerConnectionHost, handedOver?: { initialBytes: Uint8Array; secure: boolean }): void {
    this.#handshaking.add(socket);
    void runServerHandshake({
      socket,
      secureContext: handedOver === undefined ? this.#secureContext() : undefined,
      alreadySecure: handedOver?.secure ?? false,
      initialBytes: handedOver?.initialBytes,
      settings,
      threadId: 0,
      decide: (summary) => host.decide(id, summary),
      failed: (failure) => host.handshakeFailed(id, failure),
      respond: (request) => host.httpRequest(id, request),
      handOver: (stream, received) => {
        // The socket itself goes to the http.Server, with what was read put back first.
        stream.unshift(received);
        host.httpHandedOver(id, stream);
        stream.resume();
      },
    }).then((upgraded) => {
      this.#handshaking.delete(socket);
      if (upgraded === null) {
        host.ended(id);
        return;
      }
      const backend = createServerBackend(upgraded, settings);
      backend.observeLifecycle(new ConnectionEnd(host, id));
      host.upgraded(id, 0, backend, serverConnectionInfo(upgraded), upgraded.decision.limits);
    });
  }

  /** Drops every connection still in its opening handshake. */
  dropHandshakes(): void {
    for (const socket of this.#handshaking) socket.destroy();
  }
}
