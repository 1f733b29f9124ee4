/**
 * The place for WebSocket extensions (RFC 6455 section 9). permessage-deflate (RFC 7692) plugs in
 * here in a later issue. An extension transforms whole message payloads and claims RSV bits; the
 * engine rejects any RSV bit no negotiated extension claims.
 */

/** One offer or answer in a `Sec-WebSocket-Extensions` header: a name and its parameters. */
export interface ExtensionOffer {
  name: string;
  /** Parameter values; `true` for a parameter given without a value. */
  params: Record<string, string | true>;
}

/** A negotiated extension, live on one connection. */
export interface Extension {
  readonly name: string;
  /** The RSV bits this extension may set on the first frame of a message (0x40 = RSV1, 0x20, 0x10). */
  readonly rsvBits: number;
  /** Reverses the transformation of one received message; `rsv` holds the RSV bits of its first frame. */
  decodeMessage(payload: Uint8Array, rsv: number): Uint8Array;
  /** Transforms one outgoing message; returns the payload to frame and the RSV bits for its first frame. */
  encodeMessage(payload: Uint8Array): { payload: Uint8Array; rsv: number };
}

/** Negotiates one extension during the opening handshake, on either side. */
export interface ExtensionFactory {
  readonly name: string;
  /** Client: the offer to put in the request. */
  offer(): ExtensionOffer;
  /** Server: accept one of the client's offers for this extension, or none. */
  accept(offers: ExtensionOffer[]): { answer: ExtensionOffer; extension: Extension } | null;
  /** Client: build the extension from the server's answer; throw if the answer is unacceptable. */
  acceptAnswer(answer: ExtensionOffer): Extension;
}
