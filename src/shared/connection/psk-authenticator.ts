import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../engine/errors.ts';

/**
 * Qt's `QSslPreSharedKeyAuthenticator`: what a `preSharedKeyAuthenticationRequired` listener
 * fills in for a TLS-PSK handshake (Node's `pskCallback`). The listener must do it before it
 * returns (Qt: a direct connection); left empty, no pre-shared key is offered and the handshake
 * goes on with certificates, if the server has one.
 */
export class PreSharedKeyAuthenticator {
  readonly #identityHint: string;
  #identity = '';
  #preSharedKey: Uint8Array = new Uint8Array(0);

  constructor(identityHint: string) {
    this.#identityHint = identityHint;
  }

  /** The server's hint (TLS 1.2); '' when it sent none, and always in TLS 1.3, which has no hints. */
  identityHint(): string {
    return this.#identityHint;
  }

  identity(): string {
    return this.#identity;
  }

  setIdentity(identity: string): void {
    if (typeof identity !== 'string') throw new InvalidArgumentError('identity must be a string');
    this.#identity = identity;
  }

  preSharedKey(): Uint8Array {
    return this.#preSharedKey;
  }

  setPreSharedKey(key: Uint8Array | string): void {
    this.#preSharedKey = typeof key === 'string' ? Buffer.from(key, 'utf8') : Uint8Array.prototype.slice.call(key);
  }

  /** Whether the listener gave a key to offer. */
  isFilled(): boolean {
    return this.#preSharedKey.length > 0;
  }
}
