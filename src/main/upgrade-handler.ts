/**
 * The application's say on each upgrade (`WebSocketServer.setUpgradeHandler`): what it is given
 * (the whole request, as the thread holding the socket read it) and what it may answer, and the
 * one place where an answer is checked and turned into the owner's HandshakeDecision. A bad
 * answer is the application's bug: it becomes an UpgradeHandlerError, which the server converts
 * into a 500 for the client and a `serverError(1011)` for the application.
 */
import { headerListOf } from '../shared/connection/header-text.ts';
import { InvalidArgumentError } from '../shared/engine/errors.ts';
import type { HeaderList } from '../shared/connection/socket-backend.ts';
import type { PeerCertificate } from '../shared/connection/peer-certificate.ts';
import type { HandshakeSummary } from '../shared/wire/thread-messages.ts';

/** The upgrade request, as the handler (and later `socket.request()`) sees it. */
export interface UpgradeRequest {
  /** Always GET (RFC 6455 4.1): other methods are refused before any handler runs. */
  method: string;
  /** `ws://host/path?query` (`wss://` over TLS), rebuilt from `Host` and the request target. */
  url: string;
  /** The request target: path plus `?query`. */
  resourceName: string;
  /** Every header field as sent, in order, name case kept (compare names case-insensitively). */
  headers: HeaderList;
  /** `Origin` ('' when absent). */
  origin: string;
  /** `Sec-WebSocket-Protocol` offers, in the client's order. */
  subprotocols: readonly string[];
  secure: boolean;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
  /** The client's TLS certificate when the server asks for one (`peerVerifyMode`) and got one; else null. */
  peerCertificate: PeerCertificate | null;
}

export type HeaderInit = Record<string, string> | Array<[string, string]>;

export interface UpgradeAccepted {
  accept: true;
  /** Further fields of the 101 (`Set-Cookie`, say); the handshake's own fields may not be given. */
  headers?: HeaderInit;
  /**
   * The subprotocol to answer with: one the client offered, or '' for none. Undefined: the
   * server's choice (the first offer in `supportedSubprotocols`).
   */
  subprotocol?: string;
  /**
   * A small structured-clonable value (a user id, roles) kept with the connection: every socket
   * of it returns it from `attachment()`, in the owner and in a handler module. Copied once
   * (structured clone) whatever the transport, so no transport shares the object given here.
   */
  attachment?: unknown;
}

export interface UpgradeRefused {
  accept: false;
  /** 300 to 599 (a 3xx redirects with a `Location` header). */
  status: number;
  /** `WWW-Authenticate`, `Retry-After`, …; framing fields (`Content-Length`, `Connection`, `Content-Type`) are the server's. */
  headers?: HeaderInit;
  /** A short text body ('' by default); the server closes after it. */
  body?: string;
}

export type UpgradeDecision = UpgradeAccepted | UpgradeRefused;

/**
 * Runs on the owner thread once per upgrade request that passed the protocol checks and the
 * origin check (`originAuthenticationRequired`). It may take its time, up to the handshake
 * timeout (then the client gets 503 and the server a `serverError(1013)`).
 */
export type UpgradeHandler = (request: UpgradeRequest) => UpgradeDecision | Promise<UpgradeDecision>;

/** The application's handler answered something the server cannot send. */
export class UpgradeHandlerError extends Error {
  override readonly name = 'UpgradeHandlerError';
}

export function upgradeRequestOf(summary: HandshakeSummary): UpgradeRequest {
  return {
    method: summary.method,
    url: summary.requestUrl,
    resourceName: summary.resourceName,
    headers: headerListOf(summary.requestHeaders),
    origin: summary.origin,
    subprotocols: summary.subprotocols,
    secure: summary.secure,
    peerAddress: summary.peerAddress,
    peerPort: summary.peerPort,
    localAddress: summary.localAddress,
    localPort: summary.localPort,
    peerCertificate: summary.peerCertificate,
  };
}

export function checkUpgradeHandler(handler: UpgradeHandler | null): UpgradeHandler | null {
  if (handler !== null && typeof handler !== 'function') {
    throw new InvalidArgumentError(`upgradeHandler must be a function or null; got ${typeof handler}`);
  }
  return handler;
}

function headerPairs(headers: HeaderInit | undefined): Array<[string, string]> {
  if (headers === undefined) return [];
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new UpgradeHandlerError('headers must be an object of strings or [name, value] string pairs');
    }
  }
  return pairs.map(([name, value]) => [name, value]);
}

/** What an acceptance adds to the owner's own decision (header values are checked where the 101 is built). */
export interface CheckedAcceptance {
  headers: Array<[string, string]>;
  subprotocol: string | undefined;
  attachment: unknown;
}

export type CheckedDecision =
  | ({ accept: true } & CheckedAcceptance)
  | { accept: false; status: number; headers: Array<[string, string]>; body: string };

/** Checks the shape of what the handler returned; throws UpgradeHandlerError. */
export function checkUpgradeDecision(decision: unknown, offered: readonly string[]): CheckedDecision {
  if (decision === null || typeof decision !== 'object' || typeof (decision as { accept?: unknown }).accept !== 'boolean') {
    throw new UpgradeHandlerError(`The upgrade handler must return { accept: true | false, ... }; got ${String(decision)}`);
  }
  const answer = decision as UpgradeDecision;
  if (!answer.accept) {
    const { status, body = '' } = answer;
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new UpgradeHandlerError(`A refusal's status must be an integer from 300 to 599; got ${String(status)}`);
    }
    if (typeof body !== 'string') throw new UpgradeHandlerError(`A refusal's body must be a string; got ${typeof body}`);
    return { accept: false, status, headers: headerPairs(answer.headers), body };
  }
  const { subprotocol } = answer;
  if (subprotocol !== undefined && subprotocol !== '' && !offered.includes(subprotocol)) {
    throw new UpgradeHandlerError(`The subprotocol ${JSON.stringify(subprotocol)} was not offered by the client (${offered.join(', ') || 'none'})`);
  }
  let attachment: unknown;
  try {
    attachment = answer.attachment === undefined ? undefined : structuredClone(answer.attachment);
  } catch (error) {
    throw new UpgradeHandlerError(`The attachment must be structured-clonable: ${(error as Error).message}`);
  }
  return { accept: true, headers: headerPairs(answer.headers), subprotocol, attachment };
}
