/**
 * What a failed TLS handshake tells, read from Node's error: a short detail for messages, and
 * TLS alerts as Qt reports them (`QSsl::AlertLevel`, `QSsl::AlertType`). Node's `tls` exposes no
 * alert callback: the only alert it lets us see is a fatal one received from the peer, which
 * OpenSSL turns into the error that ends the handshake ("…:SSL alert number 48"). So
 * `alertReceived` is reported for those, and `alertSent` never (what OpenSSL sends is not told).
 */

/** Qt's `QSsl::AlertLevel`. */
export const AlertLevel = { Warning: 0, Fatal: 1, Unknown: 2 } as const;
export type AlertLevel = (typeof AlertLevel)[keyof typeof AlertLevel];

/** Qt's `QSsl::AlertType`: the RFC 8446 6 alert description codes. */
export const AlertType = {
  CloseNotify: 0,
  UnexpectedMessage: 10,
  BadRecordMac: 20,
  RecordOverflow: 22,
  DecompressionFailure: 30,
  HandshakeFailure: 40,
  NoCertificate: 41,
  BadCertificate: 42,
  UnsupportedCertificate: 43,
  CertificateRevoked: 44,
  CertificateExpired: 45,
  CertificateUnknown: 46,
  IllegalParameter: 47,
  UnknownCa: 48,
  AccessDenied: 49,
  DecodeError: 50,
  DecryptError: 51,
  ExportRestriction: 60,
  ProtocolVersion: 70,
  InsufficientSecurity: 71,
  InternalError: 80,
  InappropriateFallback: 86,
  UserCancelled: 90,
  NoRenegotiation: 100,
  MissingExtension: 109,
  UnsupportedExtension: 110,
  CertificateUnobtainable: 111,
  UnrecognizedName: 112,
  BadCertificateStatusResponse: 113,
  BadCertificateHashValue: 114,
  UnknownPskIdentity: 115,
  CertificateRequired: 116,
  NoApplicationProtocol: 120,
  UnknownAlertMessage: 255,
} as const;
export type AlertType = (typeof AlertType)[keyof typeof AlertType];

/** One alert, as the `alertReceived` signal carries it. */
export interface TlsAlert {
  level: AlertLevel;
  type: AlertType;
  description: string;
}

const KnownTypes = new Set<number>(Object.values(AlertType));

/** OpenSSL's messages carry its file and line; its reason and Node's code say it better. */
export function tlsErrorDetail(error: Error & { reason?: string; code?: string }): string {
  if (error.reason === undefined) return error.message.trim();
  return error.code === undefined ? error.reason : `${error.reason} (${error.code})`;
}

/**
 * The fatal alert from the peer that an OpenSSL error reports, if it reports one. OpenSSL's
 * message ends with "SSL alert number N" and its reason names the alert ("tlsv1 alert unknown ca").
 */
export function receivedAlert(error: Error & { reason?: string }): TlsAlert | undefined {
  const match = /SSL alert number (\d+)/.exec(error.message);
  if (match === null) return undefined;
  const code = Number(match[1]);
  return {
    level: AlertLevel.Fatal,
    type: (KnownTypes.has(code) ? code : AlertType.UnknownAlertMessage) as AlertType,
    description: error.reason ?? error.message.trim(),
  };
}
