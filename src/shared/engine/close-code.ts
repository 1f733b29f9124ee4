/**
 * Close codes of RFC 6455 section 7.4, named as Qt names them (`QWebSocketProtocol::CloseCode`,
 * without the `CloseCode` prefix): `CloseCode.Normal` is Qt's `CloseCodeNormal`.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  DatatypeNotSupported: 1003,
  Reserved1004: 1004,
  MissingStatusCode: 1005,
  AbnormalDisconnection: 1006,
  WrongDatatype: 1007,
  PolicyViolated: 1008,
  TooMuchData: 1009,
  MissingExtension: 1010,
  BadOperation: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  TlsHandshakeFailed: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether a code may appear in a Close frame on the wire (RFC 6455 7.4.1 and the IANA registry).
 * 1012-1014 were registered after the RFC and are valid (Qt 6.4 rejects them); 1004-1006 and
 * 1015 are reserved for local use and never sent.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

