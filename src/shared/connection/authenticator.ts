/**
 * Qt's `QAuthenticator` for the client's `authenticationRequired` (HTTP 401 from the server) and
 * `proxyAuthenticationRequired` (407 from the proxy): the listener reads the challenge (scheme,
 * realm) and sets a user and password; the opening then retries once with them. The scheme sent
 * is Basic (RFC 7617), whatever the challenge asks, and only over that one retry.
 */
import { Buffer } from 'node:buffer';

export class Authenticator {
  readonly #scheme: string;
  readonly #options: ReadonlyMap<string, string>;
  #user = '';
  #password = '';

  /** `challenge`: the `WWW-Authenticate` (or `Proxy-Authenticate`) value, '' when the response had none. */
  constructor(challenge: string) {
    const parsed = parseChallenge(challenge);
    this.#scheme = parsed.scheme;
    this.#options = parsed.options;
  }

  /** The challenge's scheme as sent (`Basic`, `Bearer`, `Digest`, …); '' when there was none. */
  scheme(): string {
    return this.#scheme;
  }

  /** The challenge's `realm` ('' when absent), as Qt's `realm()`. */
  realm(): string {
    return this.#options.get('realm') ?? '';
  }

  /** A parameter of the challenge (`charset`, `error`, …), as Qt's `option()`. */
  option(name: string): string | undefined {
    return this.#options.get(name.toLowerCase());
  }

  user(): string {
    return this.#user;
  }

  setUser(user: string): void {
    this.#user = String(user);
  }

  password(): string {
    return this.#password;
  }

  setPassword(password: string): void {
    this.#password = String(password);
  }

  /** Qt's: true while no user and no password is set (then there is no retry). */
  isNull(): boolean {
    return this.#user === '' && this.#password === '';
  }
}

/** The `Authorization` (or `Proxy-Authorization`) value for Basic. */
export function basicCredentials(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * The first challenge of a `WWW-Authenticate` value (RFC 9110 11.6.1): its scheme and its
 * `name=value` / `name="quoted"` parameters (a token68 form is kept as no parameter).
 */
function parseChallenge(value: string): { scheme: string; options: Map<string, string> } {
  const options = new Map<string, string>();
  const match = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(.*)$/.exec(value);
  if (match === null) return { scheme: '', options };
  const parameter = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/y;
  const rest = match[2]!;
  for (let found = parameter.exec(rest); found !== null; found = parameter.exec(rest)) {
    const name = found[1]!.toLowerCase();
    if (!options.has(name)) options.set(name, found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : found[3]!);
  }
  return { scheme: match[1]!, options };
}
