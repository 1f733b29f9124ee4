/**
 * `Sec-WebSocket-Extensions` (RFC 6455 section 9.1):
 *
 *   extension-list = 1#extension
 *   extension      = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" (token | quoted-string) ]
 *
 * written in RFC 2616's ABNF with its implied *LWS rule, so optional whitespace may sit around
 * `,`, `;` and `=`. A quoted value must be a token once unescaped (9.1), so a quoted-string never
 * carries anything a token could not; we therefore always write values as bare tokens.
 * Repeated header fields are one list (RFC 9110 5.3): join them with ", " before parsing.
 */

import type { ExtensionOffer } from './extension.ts';
import { InvalidArgumentError } from './errors.ts';
import { isToken } from './http-headers.ts';

export type ExtensionHeaderParse = { ok: true; offers: ExtensionOffer[] } | { ok: false; reason: string };

/**
 * Parses a `Sec-WebSocket-Extensions` value into offers, in order. Empty list elements are
 * skipped (RFC 9110 5.6.1). A parameter named twice in one offer keeps its first value and is
 * listed in `repeated`: the syntax allows it, and it is the extension's rule (RFC 7692 section 5:
 * the server declines that offer, the client fails the connection) that refuses it.
 */
export function parseExtensionHeader(value: string): ExtensionHeaderParse {
  const cursor = new Cursor(value);
  const offers: ExtensionOffer[] = [];
  try {
    for (;;) {
      cursor.skipOws();
      if (cursor.atEnd()) break;
      if (cursor.take(',')) continue;
      const name = cursor.token('an extension name');
      const params: Record<string, string | true> = {};
      const repeated: string[] = [];
      cursor.skipOws();
      while (cursor.take(';')) {
        cursor.skipOws();
        const paramName = cursor.token('a parameter name');
        cursor.skipOws();
        let paramValue: string | true = true;
        if (cursor.take('=')) {
          cursor.skipOws();
          paramValue = cursor.peek() === '"' ? cursor.quotedToken() : cursor.token('a parameter value');
          cursor.skipOws();
        }
        if (Object.hasOwn(params, paramName)) {
          repeated.push(paramName);
          continue;
        }
        Object.defineProperty(params, paramName, {
          value: paramValue,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      offers.push(repeated.length > 0 ? { name, params, repeated } : { name, params });
      if (cursor.atEnd()) break;
      if (!cursor.take(',')) cursor.fail('"," or ";"');
    }
  } catch (error) {
    if (error instanceof SyntaxError) return { ok: false, reason: `Invalid Sec-WebSocket-Extensions: ${error.message}` };
    throw error;
  }
  return { ok: true, offers };
}

/**
 * Formats offers (or a server's answers) as a `Sec-WebSocket-Extensions` value. Throws
 * InvalidArgumentError for a name or parameter that is not a token, or a value that is neither
 * `true` nor a token, since 9.1 allows nothing else on the wire.
 */
export function formatExtensionHeader(offers: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (offer === null || typeof offer !== 'object' || !isToken(offer.name)) {
      throw new InvalidArgumentError(`Invalid extension name ${JSON.stringify(offer?.name)}: must be an HTTP token`);
    }
    let text = offer.name;
    for (const [paramName, paramValue] of Object.entries(offer.params ?? {})) {
      if (!isToken(paramName)) {
        throw new InvalidArgumentError(
          `Invalid parameter name ${JSON.stringify(paramName)} in extension ${offer.name}: must be an HTTP token`,
        );
      }
      if (paramValue === true) {
        text += `; ${paramName}`;
      } else if (typeof paramValue === 'string' && isToken(paramValue)) {
        text += `; ${paramName}=${paramValue}`;
      } else {
        throw new InvalidArgumentError(
          `Invalid value for parameter ${paramName} of extension ${offer.name}: must be true or an HTTP token`,
        );
      }
    }
    parts.push(text);
  }
  return parts.join(', ');
}

/** A read position in a header value; syntax errors are thrown as SyntaxError and caught above. */
class Cursor {
  readonly #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  atEnd(): boolean {
    return this.#pos >= this.#text.length;
  }

  peek(): string {
    return this.#text.charAt(this.#pos);
  }

  take(char: string): boolean {
    if (this.#text.charAt(this.#pos) !== char) return false;
    this.#pos++;
    return true;
  }

  skipOws(): void {
    while (this.#pos < this.#text.length) {
      const c = this.#text.charCodeAt(this.#pos);
      if (c !== 0x20 && c !== 0x09) break;
      this.#pos++;
    }
  }

  token(what: string): string {
    const start = this.#pos;
    while (this.#pos < this.#text.length && isToken(this.#text.charAt(this.#pos))) this.#pos++;
    if (this.#pos === start) this.fail(what);
    return this.#text.slice(start, this.#pos);
  }

  /** A quoted-string (RFC 9110 5.6.4), unescaped; its content must be a token (RFC 6455 9.1). */
  quotedToken(): string {
    const start = this.#pos;
    this.#pos++; // the opening DQUOTE
    let value = '';
    for (;;) {
      if (this.atEnd()) throw new SyntaxError(`unterminated quoted-string at offset ${start}`);
      const c = this.#text.charCodeAt(this.#pos);
      if (c === 0x22) {
        this.#pos++;
        break;
      }
      if (c === 0x5c) {
        this.#pos++;
        if (this.atEnd()) throw new SyntaxError(`unterminated quoted-string at offset ${start}`);
        value += this.#text.charAt(this.#pos++);
        continue;
      }
      value += this.#text.charAt(this.#pos++);
    }
    if (!isToken(value)) {
      throw new SyntaxError(`quoted value ${JSON.stringify(value)} at offset ${start} is not a token once unescaped`);
    }
    return value;
  }

  fail(expected: string): never {
    const found = this.atEnd() ? 'end of value' : JSON.stringify(this.peek());
    throw new SyntaxError(`expected ${expected} at offset ${this.#pos}, found ${found}`);
  }
}
