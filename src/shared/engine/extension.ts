/**
 * The place for WebSocket extensions (RFC 6455 section 9); permessage-deflate (RFC 7692) is the
 * one we ship (permessage-deflate.ts). An extension transforms whole message payloads and claims
 * RSV bits; the engine rejects any RSV bit no negotiated extension claims.
 */

/** One offer or answer in a `Sec-WebSocket-Extensions` header: a name and its parameters. */
export interface ExtensionOffer {
  name: string;
  /** Parameter values; `true` for a parameter given without a value. */
  params: Record<string, string | true>;
  /** Parameters named more than once (`params` keeps the first value): the extension decides what that means. */
  repeated?: string[];
}

/** A negotiated extension, live on one connection. */
export interface Extension {
  readonly name: string;
  /** The RSV bits this extension may set on the first frame of a message (0x40 = RSV1, 0x20, 0x10). */
  readonly rsvBits: number;
  /**
   * Reverses the transformation of one received message; `rsv` holds the RSV bits of its first
   * frame. A result longer than `maxSize` must not be produced: throw a WebSocketError with 1009
   * as soon as it would be.
   */
  decodeMessage(payload: Uint8Array, rsv: number, maxSize: number): Uint8Array;
  /** Transforms one outgoing message; returns the payload to frame and the RSV bits for its first frame. */
  encodeMessage(payload: Uint8Array): { payload: Uint8Array; rsv: number };
  /** The connection is over: free what the extension holds. */
  close?(): void;
  /**
   * Whether a message compressed once for many connections (a publish, see `CompressedFrames`)
   * with a window of `windowBits` may go out on this connection as it is.
   */
  acceptsCompressed?(windowBits: number): boolean;
  /** Such a message went out: what this extension sends next must not depend on its own history. */
  compressedSent?(): void;
}

/**
 * A message compressed once for many connections (permessage-deflate, RSV1 on its first frame):
 * the frames, and the LZ77 window its compressor had, which a connection's agreed window must
 * cover. The compressor was fresh, so the bytes reach back into nothing sent before them.
 */
export interface CompressedFrames {
  frames: Uint8Array;
  windowBits: number;
}

/**
 * A client's side of one extension's negotiation. (The server's side is a function of plain
 * settings, since it runs in whichever thread holds the connection: `negotiateServerDeflate`.)
 */
export interface ExtensionFactory {
  readonly name: string;
  /** The offers to put in the request, in order of preference. */
  offers(): ExtensionOffer[];
  /** Builds the extension from the server's answer; throws if the answer is unacceptable. */
  acceptAnswer(answer: ExtensionOffer): Extension;
}

/** The extensions of a connection that agreed none: one list for all of them. */
export const NoExtensions: readonly Extension[] = Object.freeze([]);
