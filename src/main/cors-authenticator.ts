/**
 * Qt's `QWebSocketCorsAuthenticator`: handed to every `originAuthenticationRequired` listener with
 * the request's `Origin` ('' when absent) and `allowed() === true`. A denied origin gets
 * `403 Access Forbidden` and a `serverError(1008)`.
 *
 * Qt decides synchronously. A Node listener often needs I/O (a database, an allow-list service),
 * so a listener may call `defer()` and decide later with `setAllowed()`: the handshake waits for
 * that call, bounded by the server's handshake timeout.
 */
export class WebSocketCorsAuthenticator {
  readonly #origin: string;
  #allowed = true;
  #deferred = false;
  #settled = false;
  #onSettled: (() => void) | undefined;

  constructor(origin: string) {
    this.#origin = origin;
  }

  /** A deep copy with the same origin and decision, as Qt's copy constructor. */
  static from(other: WebSocketCorsAuthenticator): WebSocketCorsAuthenticator {
    const copy = new WebSocketCorsAuthenticator(other.#origin);
    copy.#allowed = other.#allowed;
    return copy;
  }

  origin(): string {
    return this.#origin;
  }

  allowed(): boolean {
    return this.#allowed;
  }

  /** Decides; after `defer()`, the first call also releases the waiting handshake. */
  setAllowed(allowed: boolean): void {
    this.#allowed = allowed;
    if (this.#deferred && !this.#settled) {
      this.#settled = true;
      this.#onSettled?.();
    }
  }

  /** Keeps the handshake waiting until `setAllowed()` is called (from the listener or later). */
  defer(): void {
    this.#deferred = true;
  }

  isDeferred(): boolean {
    return this.#deferred && !this.#settled;
  }

  /**
   * Resolves with the decision once every listener has run and any deferred decision is made.
   * Used by the server only.
   */
  decision(): Promise<boolean> {
    if (!this.isDeferred()) return Promise.resolve(this.#allowed);
    return new Promise((resolve) => {
      this.#onSettled = () => resolve(this.#allowed);
    });
  }
}
