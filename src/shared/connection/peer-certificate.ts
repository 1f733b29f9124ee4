/**
 * The client certificate of a TLS connection, as plain data: it is read in the thread that holds
 * the socket and crosses to the owner in the handshake summary, so it must survive a structured
 * clone (Node's `getPeerCertificate()` object has Buffers, null-prototype objects and a
 * self-referencing `issuerCertificate` chain).
 */
import type { TLSSocket } from 'node:tls';

/**
 * Qt's `QSslSocket::PeerVerifyMode` on the server side: whether TLS asks the client for a
 * certificate, and whether one signed by the configured CAs (`tls.ca`) is required.
 */
export const PeerVerifyMode = {
  /** No certificate is asked for (the default). */
  VerifyNone: 'VerifyNone',
  /** A certificate is asked for; the connection goes on without one or with an invalid one (see `verified`). */
  QueryPeer: 'QueryPeer',
  /** A valid certificate is required: without one the TLS handshake fails and no request is read. */
  VerifyPeer: 'VerifyPeer',
} as const;
export type PeerVerifyMode = (typeof PeerVerifyMode)[keyof typeof PeerVerifyMode];

export interface PeerCertificate {
  /** Subject fields (`CN`, `O`, …); a field given twice is joined with ', '. */
  subject: Record<string, string>;
  issuer: Record<string, string>;
  /** Node's `subjectaltname` text ('DNS:a.example, IP Address:127.0.0.1'), '' when absent. */
  subjectAltName: string;
  serialNumber: string;
  /** SHA-256 of the DER, as colon-separated hex. */
  fingerprint256: string;
  validFrom: string;
  validTo: string;
  /** The certificate, DER-encoded. */
  raw: Uint8Array;
  /** Whether it chains to one of the server's CAs (always true with VerifyPeer). */
  verified: boolean;
  /** Why it did not verify (OpenSSL's code, e.g. 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'); '' when verified. */
  verifyError: string;
}

interface TlsHandle {
  verifyError?(): (Error & { code?: string }) | null;
}

/**
 * Checks the client's certificate once TLS is up, as Node's own `tls.Server` does for the sockets
 * it makes (its connection listener; a `TLSSocket` made directly, as ours are, does not get it):
 * OpenSSL already refused a missing certificate when one is required, but it accepts any
 * certificate and leaves the verdict to this check. Sets `authorized`/`authorizationError`;
 * with `required`, a certificate that did not verify ends the connection before any byte is read.
 */
export function verifyPeerWhenSecure(socket: TLSSocket, required: boolean): void {
  socket.once('secure', () => {
    const error = (socket as unknown as { _handle?: TlsHandle | null })._handle?.verifyError?.() ?? null;
    if (error === null) {
      socket.authorized = true;
      return;
    }
    socket.authorized = false;
    socket.authorizationError = (error.code ?? error.message) as unknown as Error;
    if (required) socket.destroy();
  });
}

function fields(names: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (names === undefined || names === null) return out;
  for (const [name, value] of Object.entries(names)) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
}

/** The client's certificate on a server-side TLS socket, or null when it sent none. */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | null {
  const certificate = socket.getPeerCertificate(false);
  if (certificate === null || certificate === undefined || certificate.raw === undefined) return null;
  const error = socket.authorizationError as unknown;
  return {
    subject: fields(certificate.subject),
    issuer: fields(certificate.issuer),
    subjectAltName: certificate.subjectaltname ?? '',
    serialNumber: certificate.serialNumber ?? '',
    fingerprint256: certificate.fingerprint256 ?? '',
    validFrom: certificate.valid_from ?? '',
    validTo: certificate.valid_to ?? '',
    raw: new Uint8Array(certificate.raw),
    verified: socket.authorized,
    verifyError: socket.authorized ? '' : String(error ?? 'unverified'),
  };
}
