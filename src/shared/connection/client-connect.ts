import { Buffer } from 'node:buffer';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { nodeTls } from './node-tls.ts';
import { SocketError, WebSocketError } from '../engine/errors.ts';
import { HeaderBlockReader, serializeHeaderBlock } from '../engine/http-headers.ts';
import { Defaults } from '../engine/limits.ts';
import { isIpLiteral, type ClientTarget } from './client-url.ts';
import { PreSharedKeyAuthenticator } from './psk-authenticator.ts';
import { receivedAlert, tlsErrorDetail, type TlsAlert } from './tls-alert.ts';

/** Qt's `setSslConfiguration`, in Node's terms: what `tls.connect` needs to verify and present. */
export interface SslConfiguration {
  /** Trusted CA certificates (PEM). Default: Node's bundled roots (the system store with `--use-system-ca`). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate chain (PEM) and its key, for servers that ask for one. */
  cert?: string | Buffer | Array<string | Buffer>;
  key?: string | Buffer | Array<string | Buffer>;
  passphrase?: string;
  /** SNI and the name the certificate must carry. Default: the URL's host (no SNI for an IP literal). */
  servername?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL's cipher list (Qt's `setCiphers`), e.g. to allow TLS 1.2 PSK suites. Default: Node's. */
  ciphers?: string;
  /**
   * Qt's `QSslConfiguration::setHandshakeMustInterruptOnError`: each verification failure is
   * offered to `handshakeInterruptedOnError` listeners first, and the connection goes on only if
   * one calls `continueInterruptedHandshake()` during the signal. Node verifies once the TLS
   * handshake is complete, so "interrupted" means: before the upgrade request is written.
   */
  handshakeMustInterruptOnError?: boolean;
}

/** One certificate verification failure, as `sslErrors` reports it. */
export interface SslError {
  /** OpenSSL's or Node's code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`. */
  code: string;
  message: string;
  /** The peer's certificate, as Node describes it (absent if the server sent none). */
  certificate?: tls.PeerCertificate;
}

/** An HTTP proxy reached with `CONNECT` (Qt's `QNetworkProxy::HttpProxy`). */
export interface ProxyConfiguration {
  host: string;
  port: number;
  auth?: { username: string; password: string };
}

export interface TransportRequest {
  target: ClientTarget;
  ssl: SslConfiguration;
  proxy: ProxyConfiguration | null;
  /**
   * Called with the verification failures of a wss server certificate; the connection goes on
   * only if it returns (or resolves to) true. It is where `sslErrors` is emitted and
   * `ignoreSslErrors()` checked; a promise holds the connection paused (Qt's PauseOnSslErrors).
   */
  sslErrors(errors: SslError[]): boolean | Promise<boolean>;
  /** A fatal alert from the server ended the TLS handshake (see tls-alert.ts). */
  alertReceived?(alert: TlsAlert): void;
  /** When set, TLS-PSK is offered: fill the authenticator in before returning (see psk-authenticator.ts). */
  preSharedKeyAuthenticationRequired?(authenticator: PreSharedKeyAuthenticator): void;
  /** Aborting destroys whatever socket is in progress and rejects with `signal.reason`. */
  signal: AbortSignal;
}

/**
 * Opens the byte stream a client WebSocket runs on: TCP (through a proxy tunnel if one is set),
 * then TLS for wss. Resolves with the socket paused and without listeners of ours, except an
 * 'error' guard that the caller removes once it listens itself; rejects with a WebSocketError.
 */
export async function connectTransport(request: TransportRequest): Promise<Duplex> {
  const { target, proxy, signal } = request;
  let socket: net.Socket;
  if (proxy === null) {
    socket = await connectTcp(target.host, target.port, signal, false);
  } else {
    socket = await connectTcp(proxy.host, proxy.port, signal, true);
    await openTunnel(socket, target, proxy, signal);
  }
  // Qt's LowDelayOption and KeepAliveOption.
  socket.setNoDelay(true);
  socket.setKeepAlive(true);
  if (!target.secure) return socket;
  return startTls(socket, request);
}

/** Keeps an 'error' between two stages from crashing the process; the stage after sees `destroyed`. */
export function guardErrors(socket: Duplex): void {
  socket.on('error', ignoreError);
}

export function unguardErrors(socket: Duplex): void {
  socket.off('error', ignoreError);
}

function ignoreError(): void {}

/**
 * Runs one stage on a socket: `start` sets listeners up and calls `done` or `fail`; every path
 * removes them, and an abort destroys the socket.
 */
function stage<T>(
  socket: Duplex,
  signal: AbortSignal,
  start: (done: (value: T) => void, fail: (error: unknown) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      socket.destroy();
      reject(signal.reason);
      return;
    }
    let cleanup = (): void => {};
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      cleanup();
      signal.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (!finish()) return;
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort);
    cleanup = start(
      (value) => {
        if (finish()) resolve(value);
      },
      (error) => {
        if (!finish()) return;
        socket.destroy();
        reject(error);
      },
    );
  });
}

function connectTcp(host: string, port: number, signal: AbortSignal, toProxy: boolean): Promise<net.Socket> {
  const socket = net.connect({ host, port });
  guardErrors(socket);
  return stage(socket, signal, (done, fail) => {
    const onConnect = (): void => {
      socket.pause();
      done(socket);
    };
    const onError = (error: NodeJS.ErrnoException): void => fail(connectError(error, host, port, toProxy));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    return () => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
  });
}

/** The errno of a failed connect; with several addresses tried (happy eyeballs) Node reports an AggregateError. */
function errorCode(error: NodeJS.ErrnoException): string | undefined {
  if (error.code !== undefined) return error.code;
  const inner = (error as unknown as { errors?: NodeJS.ErrnoException[] }).errors;
  return inner?.[0]?.code;
}

function connectError(error: NodeJS.ErrnoException, host: string, port: number, toProxy: boolean): WebSocketError {
  const code = errorCode(error);
  const where = `${toProxy ? 'proxy ' : ''}${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return new WebSocketError(toProxy ? SocketError.ProxyConnectionRefused : SocketError.ConnectionRefused, `Connection refused by ${where}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new WebSocketError(SocketError.HostNotFound, `Host not found: ${toProxy ? 'proxy ' : ''}${host} (${code})`);
    case 'ETIMEDOUT':
      return new WebSocketError(SocketError.SocketTimeout, `Connection to ${where} timed out`);
    case 'EACCES':
    case 'EPERM':
      return new WebSocketError(SocketError.SocketAccess, `Not allowed to connect to ${where}: ${error.message}`);
    case 'EADDRNOTAVAIL':
      return new WebSocketError(SocketError.SocketAddressNotAvailable, `Address not available for ${where}: ${error.message}`);
    case 'EMFILE':
    case 'ENFILE':
    case 'ENOBUFS':
      return new WebSocketError(SocketError.SocketResource, `Out of resources connecting to ${where}: ${error.message}`);
    default:
      return new WebSocketError(SocketError.Network, `Cannot connect to ${where}: ${error.message}`);
  }
}

/** The proxy answered 407: its challenge (`Proxy-Authenticate`) goes with the error. */
export class ProxyAuthenticationError extends WebSocketError {
  readonly challenge: string;

  constructor(message: string, challenge: string) {
    super(SocketError.ProxyAuthenticationRequired, message);
    this.challenge = challenge;
  }
}

/** RFC 9110 9.3.6: `CONNECT host:port`, then a 2xx turns the connection into a tunnel. */
function openTunnel(socket: net.Socket, target: ClientTarget, proxy: ProxyConfiguration, signal: AbortSignal): Promise<void> {
  const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const fields: Array<[string, string]> = [['Host', authority]];
  if (proxy.auth !== undefined) {
    const credentials = Buffer.from(`${proxy.auth.username}:${proxy.auth.password}`, 'utf8').toString('base64');
    fields.push(['Proxy-Authorization', `Basic ${credentials}`]);
  }
  const reader = new HeaderBlockReader(Defaults.maxHandshakeHeaderSize, false);
  const where = `proxy ${proxy.host}:${proxy.port}`;
  return stage(socket, signal, (done, fail) => {
    const onData = (chunk: Buffer): void => {
      const status = reader.feed(chunk);
      if (status.kind === 'incomplete') return;
      if (status.kind !== 'complete') {
        fail(new WebSocketError(SocketError.ProxyProtocol, `Malformed CONNECT response from ${where}`));
        return;
      }
      const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(reader.lines[0] ?? '');
      if (statusLine === null) {
        fail(new WebSocketError(SocketError.ProxyProtocol, `Malformed CONNECT status line from ${where}: ${JSON.stringify(reader.lines[0])}`));
        return;
      }
      const code = Number(statusLine[1]);
      if (code === 407) {
        const challenge = reader.lines.slice(1).find((line) => /^proxy-authenticate\s*:/i.test(line))?.replace(/^[^:]*:\s*/, '') ?? '';
        fail(new ProxyAuthenticationError(`${where} requires authentication for CONNECT ${authority}: 407 ${statusLine[2] ?? ''}`.trimEnd(), challenge));
        return;
      }
      if (code < 200 || code > 299) {
        fail(new WebSocketError(SocketError.ProxyConnectionRefused, `${where} refused CONNECT ${authority}: ${code} ${statusLine[2] ?? ''}`.trimEnd()));
        return;
      }
      socket.pause();
      // The server speaks only after our request, so nothing should follow; keep it if it does.
      if (status.rest.length > 0) socket.unshift(Buffer.from(status.rest));
      done();
    };
    const onClose = (): void => fail(new WebSocketError(SocketError.ProxyProtocol, `${where} closed the connection during CONNECT`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(serializeHeaderBlock(`CONNECT ${authority} HTTP/1.1`, fields));
    socket.resume();
    return () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
  });
}

const VerificationMessages: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'The certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'A self-signed certificate in the chain is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'The certificate chain cannot be verified up to a trusted root',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'The issuer certificate is not trusted (no matching CA)',
  CERT_HAS_EXPIRED: 'The certificate has expired',
  CERT_NOT_YET_VALID: 'The certificate is not yet valid',
  CERT_REVOKED: 'The certificate has been revoked',
};

/**
 * TLS with verification done here rather than by Node, so that a failure can be reported through
 * `sslErrors` and deliberately ignored: `rejectUnauthorized` is off, and the connection proceeds
 * only when Node found no error or the `sslErrors` callback says to go on.
 */
function startTls(socket: net.Socket, request: TransportRequest): Promise<tls.TLSSocket> {
  const { target, ssl, signal } = request;
  let identityError: Error | undefined;
  const servername = ssl.servername ?? (isIpLiteral(target.host) ? undefined : target.host);
  const tlsSocket = nodeTls().connect({
    socket,
    // `host` is what the certificate is checked against when no servername is given.
    host: target.host,
    servername,
    ca: ssl.ca,
    cert: ssl.cert,
    key: ssl.key,
    passphrase: ssl.passphrase,
    minVersion: ssl.minVersion,
    maxVersion: ssl.maxVersion,
    ciphers: ssl.ciphers,
    pskCallback: request.preSharedKeyAuthenticationRequired === undefined ? undefined : (hint) => {
      const authenticator = new PreSharedKeyAuthenticator(hint ?? '');
      request.preSharedKeyAuthenticationRequired!(authenticator);
      return authenticator.isFilled() ? { identity: authenticator.identity(), psk: authenticator.preSharedKey() } : null;
    },
    ALPNProtocols: ['http/1.1'],
    rejectUnauthorized: false,
    checkServerIdentity: (hostname, certificate) => {
      // No certificate at all: a pre-shared key authenticated the server (TLS-PSK), not a name.
      if (request.preSharedKeyAuthenticationRequired !== undefined && Object.keys(certificate).length === 0) return undefined;
      identityError = nodeTls().checkServerIdentity(hostname, certificate);
      return identityError;
    },
  });
  guardErrors(tlsSocket);
  // Destroying the TLS socket leaves the TCP socket under it open (and, paused, not even keeping
  // the process alive): take it down with the TLS socket, on every path.
  tlsSocket.once('close', () => socket.destroy());
  return stage(tlsSocket, signal, (done, fail) => {
    const onSecure = (): void => {
      if (tlsSocket.authorized) {
        tlsSocket.pause();
        done(tlsSocket);
        return;
      }
      const raw = tlsSocket.authorizationError as unknown;
      const code = typeof raw === 'string' ? raw : ((raw as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN');
      const message = identityError?.message ?? VerificationMessages[code] ?? `Certificate verification failed (${code})`;
      const certificate = tlsSocket.getPeerCertificate();
      const error: SslError = { code, message };
      if (certificate !== null && Object.keys(certificate).length > 0) error.certificate = certificate;
      // Nothing is read while the application decides (Qt's PauseOnSslErrors).
      tlsSocket.pause();
      const decide = (proceed: boolean): void => {
        if (proceed) done(tlsSocket);
        else fail(new WebSocketError(SocketError.SslHandshakeFailed, `TLS certificate of ${target.host} rejected: ${message} (${code})`));
      };
      let decision: boolean | Promise<boolean>;
      try {
        decision = request.sslErrors([error]);
      } catch (thrown) {
        fail(thrown);
        return;
      }
      if (typeof decision === 'boolean') decide(decision);
      else decision.then(decide, fail);
    };
    const onError = (error: Error & { reason?: string; code?: string }): void => {
      const alert = receivedAlert(error);
      if (alert !== undefined) request.alertReceived?.(alert);
      fail(new WebSocketError(SocketError.SslHandshakeFailed, `TLS handshake with ${target.host}:${target.port} failed: ${tlsErrorDetail(error)}`));
    };
    const onClose = (): void => {
      fail(new WebSocketError(SocketError.SslHandshakeFailed, `${target.host}:${target.port} closed the connection during the TLS handshake`));
    };
    tlsSocket.once('secureConnect', onSecure);
    tlsSocket.once('error', onError);
    tlsSocket.once('close', onClose);
    return () => {
      tlsSocket.off('secureConnect', onSecure);
      tlsSocket.off('error', onError);
      tlsSocket.off('close', onClose);
    };
  });
}
