/**
 * A connection the owner only counts: this thread accepted it, the handler module serves it,
 * and nobody on the owner observes it (the standing acceptance took it; no `newConnection`
 * listener). Such a connection needs no signal forwarder and no command receiver, and the owner
 * no record of it: the thread channel tells the owner, per turn, how many opened and ended (see
 * CountedNews), and closes all of them at once when the owner asks (`closeAllConnections`).
 * One object per connection, holding what those need: its backend and its channel, and it is the
 * connection's topic membership itself (a LocalMembership), not a second object beside it.
 */
import type { EngineSocketBackend, LifecycleObserver } from '../shared/connection/engine-socket-backend.ts';
import type { HandlerHostEvents } from '../shared/connection/handler-host.ts';
import type { WebSocketError } from '../shared/engine/errors.ts';
import { LocalMembership, type ThreadPubSub, type TopicMembership } from '../shared/pubsub/topic-membership.ts';

/** What a counted connection tells its thread channel. */
export interface CountedOutbox {
  countedEnded(connection: CountedConnection): void;
  /** The handler module failed to load (the server's serverError); the connection is dropped. */
  countedFailed(error: WebSocketError): void;
}

export class CountedConnection extends LocalMembership implements LifecycleObserver, HandlerHostEvents {
  readonly backend: EngineSocketBackend;
  readonly #outbox: CountedOutbox;

  constructor(backend: EngineSocketBackend, connectionId: number, topics: ThreadPubSub, outbox: CountedOutbox) {
    super(topics, connectionId, backend);
    this.backend = backend;
    this.#outbox = outbox;
  }

  /** What the handler's socket publishes and subscribes through: this connection. */
  get topics(): TopicMembership {
    return this;
  }

  failed(error: WebSocketError): void {
    this.#outbox.countedFailed(error);
  }

  disconnected(): void {
    this.#outbox.countedEnded(this);
  }
}
