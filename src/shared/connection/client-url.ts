import { isIP } from 'node:net';
import { SocketError, WebSocketError } from '../engine/errors.ts';

/** Where a client connects and what it asks for, from a `ws:` or `wss:` URL. */
export interface ClientTarget {
  /** The URL as given, normalised by the WHATWG parser (fragment dropped). */
  url: string;
  secure: boolean;
  /** Host to connect to: a name, or an IP literal without brackets. */
  host: string;
  port: number;
  /** The `Host` header: authority without userinfo, the port only if the URL gives one (as Qt). */
  hostHeader: string;
  /** Request target: percent-encoded path plus `?query`; `/` for an empty path. */
  resourceName: string;
  /** Credentials from `ws://user:pass@host`, decoded; sent as Basic authorization. */
  username: string;
  password: string;
}

/**
 * Parses and checks a client URL. Failures are the errors Qt reports for them: an unparseable
 * URL is `ConnectionRefused` "Invalid URL", a scheme other than ws/wss is
 * `UnsupportedSocketOperation`.
 */
export function parseClientUrl(input: string | URL): ClientTarget {
  let url: URL;
  try {
    url = new URL(typeof input === 'string' ? input : input.href);
  } catch {
    throw new WebSocketError(SocketError.ConnectionRefused, `Invalid URL: ${JSON.stringify(String(input))}`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'ws' && scheme !== 'wss') {
    throw new WebSocketError(SocketError.UnsupportedSocketOperation, `Unsupported WebSocket scheme: ${scheme}`);
  }
  if (url.hostname === '') {
    throw new WebSocketError(SocketError.ConnectionRefused, `Invalid URL (no host): ${JSON.stringify(url.href)}`);
  }
  url.hash = '';
  const secure = scheme === 'wss';
  // The WHATWG parser keeps IPv6 literals in brackets and drops a port equal to the default.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const resourceName = (url.pathname === '' ? '/' : url.pathname) + url.search;
  return {
    url: url.href,
    secure,
    host,
    port,
    hostHeader: url.host,
    resourceName,
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/** Whether `host` is an IP literal (TLS servername must not be one). */
export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}
