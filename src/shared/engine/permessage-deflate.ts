/**
 * permessage-deflate (RFC 7692): the negotiation of its four parameters on both sides, and the
 * compression itself.
 *
 * Negotiation (section 5 and 7.1). The server takes the client's offers in order and accepts the
 * first one it can honour; an offer with an unknown parameter, a repeated one, or a value that is
 * not 8..15 (or a value on a no_context_takeover) is declined and the next is tried. The client
 * fails the opening when the answer has such a parameter, or answers something it did not offer
 * (client_max_window_bits it did not offer, a server window larger than it asked for, context
 * takeover kept when it asked for none).
 *
 * Memory (the server chooses, as uWebSockets' modes):
 * - `shared`: the answer always carries server_no_context_takeover and client_no_context_takeover,
 *   so no message depends on the one before; every connection of a thread then compresses and
 *   decompresses with one zlib context per thread, reset after each message. A connection keeps
 *   no zlib state at all.
 * - `dedicated`: context takeover both ways (unless the client asks otherwise), with the server's
 *   window capped at `windowBits` (and the client's too when it offers client_max_window_bits).
 *   Each connection then owns its zlib contexts, made at its first compressed message:
 *   deflate 2^(windowBits+3) bytes (memLevel windowBits-7, as uWS pairs them), inflate
 *   2^windowBits plus about 7 KiB.
 *
 * Window bits 8: zlib refuses to deflate with a 256-byte window, but its deflate never emits a
 * distance beyond the window minus 262 bytes, so with 9 bits (512) no distance exceeds 250 and
 * the output is valid for a 256-byte window. A peer asking for 8 is therefore answered 8, and
 * compressed for with 9 (RawZlib.deflater).
 *
 * Everything runs synchronously on the thread that owns the connection (see raw-deflate.ts).
 */
import { Buffer } from 'node:buffer';
import { CloseCode } from './close-code.ts';
import { InvalidArgumentError, SocketError, WebSocketError } from './errors.ts';
import type { Extension, ExtensionFactory, ExtensionOffer } from './extension.ts';
import { OutputLimitExceeded, RawZlib, ZlibDataError } from './raw-deflate.ts';

export const PerMessageDeflateName = 'permessage-deflate';

export const DeflateMode = { Shared: 'shared', Dedicated: 'dedicated' } as const;
export type DeflateMode = (typeof DeflateMode)[keyof typeof DeflateMode];

/** A server's permessage-deflate settings, resolved (plain data: they cross to the workers). */
export interface DeflateSettings {
  mode: DeflateMode;
  /** `dedicated`: the largest LZ77 window, 9..15 bits, for our compressor and (when the client lets us say) the client's. */
  windowBits: number;
  /** Messages shorter than this many bytes go out uncompressed. */
  threshold: number;
  /** zlib compression level, 0..9. */
  level: number;
}

/** What a server or client may give for its deflate option. `true` is the default mode. */
export type DeflateOption = boolean | DeflateMode | Partial<DeflateSettings>;

export const DeflateDefaults = {
  /** The server offers nothing unless asked: compression costs CPU and memory, and mixing secrets with attacker-chosen text in one compressed stream leaks them (CRIME/BREACH). */
  server: false,
  mode: DeflateMode.Shared,
  windowBits: 12,
  threshold: 256,
  /** zlib's fastest level: on 1 KiB JSON it keeps most of level 6's ratio at a fraction of its CPU. */
  level: 1,
} as const;

/** One client offer, in ws's option names. */
export interface DeflateOffer {
  /** Ask the server to reset its compressor after each message. */
  serverNoContextTakeover?: boolean;
  /** Announce that we reset ours after each message. */
  clientNoContextTakeover?: boolean;
  /** Ask the server for at most this window (8..15). */
  serverMaxWindowBits?: number;
  /** `true`: let the server choose our window; a number: we use at most that; `false`: not offered. Default `true`. */
  clientMaxWindowBits?: number | boolean;
}

export interface ClientDeflateOptions {
  /** Offers in order of preference; default one offer `permessage-deflate; client_max_window_bits`, as browsers and ws send. */
  offers?: DeflateOffer[];
  threshold?: number;
  level?: number;
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}; got ${String(value)}`);
  }
  return value;
}

/** Turns a server's option into settings (null: off); InvalidArgumentError for anything else. */
export function resolveDeflateSettings(option: DeflateOption | null | undefined): DeflateSettings | null {
  if (option === undefined || option === null || option === false) return null;
  const given: Partial<DeflateSettings> = option === true ? {} : typeof option === 'string' ? { mode: option } : option;
  if (typeof given !== 'object') throw new InvalidArgumentError(`Invalid deflate option ${JSON.stringify(option)}`);
  const mode = given.mode ?? DeflateDefaults.mode;
  if (mode !== DeflateMode.Shared && mode !== DeflateMode.Dedicated) {
    throw new InvalidArgumentError(`deflate mode must be 'shared' or 'dedicated'; got ${JSON.stringify(mode)}`);
  }
  return {
    mode,
    windowBits: checkInteger('deflate windowBits', given.windowBits ?? DeflateDefaults.windowBits, 9, 15),
    threshold: checkInteger('deflate threshold', given.threshold ?? DeflateDefaults.threshold, 0, Number.MAX_SAFE_INTEGER),
    level: checkInteger('deflate level', given.level ?? DeflateDefaults.level, 0, 9),
  };
}

// ---- parameters -------------------------------------------------------------------------------

interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: given without a value (an offer only). */
  clientMaxWindowBits: number | true | undefined;
}

/** RFC 7692 7.1.2.1: `1*DIGIT` with a value from 8 to 15, so no sign, no leading zero. */
const WindowBitsValue = /^(?:[89]|1[0-5])$/;

/**
 * Reads one offer's (or the answer's) parameters; a string is the reason it is invalid (section
 * 5's list: unknown, repeated, or an invalid value).
 */
function readParameters(offer: ExtensionOffer, isAnswer: boolean): DeflateParameters | string {
  const repeated = offer.repeated ?? [];
  if (repeated.length > 0) return `parameter ${repeated[0]} appears more than once`;
  const parameters: DeflateParameters = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: undefined, clientMaxWindowBits: undefined };
  for (const [name, value] of Object.entries(offer.params)) {
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return `${name} takes no value; got ${value}`;
        if (name === 'server_no_context_takeover') parameters.serverNoContextTakeover = true;
        else parameters.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WindowBitsValue.test(value)) return `server_max_window_bits must be 8..15; got ${value === true ? 'no value' : value}`;
        parameters.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value === true) {
          if (isAnswer) return 'client_max_window_bits in an answer needs a value';
          parameters.clientMaxWindowBits = true;
        } else {
          if (!WindowBitsValue.test(value)) return `client_max_window_bits must be 8..15; got ${value}`;
          parameters.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return parameters;
}

/** How one side of a connection compresses and decompresses, as negotiated. */
export interface DeflateAgreement {
  /** Our compressor keeps its window between messages. */
  ownContextTakeover: boolean;
  ownWindowBits: number;
  /** The peer's compressor keeps its window between messages (so our decompressor must too). */
  peerContextTakeover: boolean;
  peerWindowBits: number;
}

// ---- server -----------------------------------------------------------------------------------

export interface ServerDeflateNegotiation {
  answer: ExtensionOffer;
  extension: PerMessageDeflate;
}

/**
 * The server's side: the first of the client's permessage-deflate offers it can accept, its
 * answer, and the extension; null when there is no offer or every offer was declined.
 */
export function negotiateServerDeflate(offers: readonly ExtensionOffer[], settings: DeflateSettings): ServerDeflateNegotiation | null {
  for (const offer of offers) {
    if (offer.name !== PerMessageDeflateName) continue;
    const offered = readParameters(offer, false);
    if (typeof offered === 'string') continue; // declined: the next offer may do
    const dedicated = settings.mode === DeflateMode.Dedicated;
    const ownCap = dedicated ? settings.windowBits : 15;
    const ownWindowBits = Math.min(ownCap, offered.serverMaxWindowBits ?? 15);
    const peerOffer = offered.clientMaxWindowBits;
    const peerWindowBits = peerOffer === undefined ? 15 : Math.min(peerOffer === true ? 15 : peerOffer, ownCap);
    const agreement: DeflateAgreement = {
      ownContextTakeover: dedicated && !offered.serverNoContextTakeover,
      ownWindowBits,
      peerContextTakeover: dedicated && !offered.clientNoContextTakeover,
      peerWindowBits,
    };
    const params: Record<string, string | true> = {};
    if (!agreement.ownContextTakeover) params['server_no_context_takeover'] = true;
    if (!agreement.peerContextTakeover) params['client_no_context_takeover'] = true;
    // Accepting a server_max_window_bits offer means answering it (7.1.2.1); a smaller window of
    // our own may be announced even when not asked for.
    if (offered.serverMaxWindowBits !== undefined || ownWindowBits < 15) params['server_max_window_bits'] = String(ownWindowBits);
    // client_max_window_bits only when offered (7.1.2.2), and only when it says something.
    if (peerOffer !== undefined && (peerOffer !== true || peerWindowBits < 15)) params['client_max_window_bits'] = String(peerWindowBits);
    return {
      answer: { name: PerMessageDeflateName, params },
      extension: new PerMessageDeflate(agreement, settings.threshold, settings.level, dedicated ? settings.windowBits - 7 : 8),
    };
  }
  return null;
}

// ---- client -----------------------------------------------------------------------------------

function offerParams(offer: DeflateOffer): Record<string, string | true> {
  const params: Record<string, string | true> = {};
  if (offer.serverNoContextTakeover === true) params['server_no_context_takeover'] = true;
  if (offer.clientNoContextTakeover === true) params['client_no_context_takeover'] = true;
  if (offer.serverMaxWindowBits !== undefined) params['server_max_window_bits'] = String(checkInteger('serverMaxWindowBits', offer.serverMaxWindowBits, 8, 15));
  const client = offer.clientMaxWindowBits ?? true;
  if (client !== false) params['client_max_window_bits'] = client === true ? true : String(checkInteger('clientMaxWindowBits', client, 8, 15));
  return params;
}

/** Why `answer` is no valid answer to `offer`, or how the connection then runs. */
function agreementFor(offer: DeflateOffer, answer: DeflateParameters): DeflateAgreement | string {
  const offeredClientBits = offer.clientMaxWindowBits ?? true;
  const answeredClientBits = answer.clientMaxWindowBits;
  if (answeredClientBits !== undefined && offeredClientBits === false) return 'client_max_window_bits was not offered';
  if (typeof answeredClientBits === 'number' && typeof offeredClientBits === 'number' && answeredClientBits > offeredClientBits) {
    return `client_max_window_bits=${answeredClientBits} is larger than the ${offeredClientBits} offered`;
  }
  if (offer.serverMaxWindowBits !== undefined) {
    if (answer.serverMaxWindowBits === undefined) return `server_max_window_bits=${offer.serverMaxWindowBits} was offered and not answered`;
    if (answer.serverMaxWindowBits > offer.serverMaxWindowBits) return `server_max_window_bits=${answer.serverMaxWindowBits} is larger than the ${offer.serverMaxWindowBits} offered`;
  }
  if (offer.serverNoContextTakeover === true && !answer.serverNoContextTakeover) return 'server_no_context_takeover was offered and not answered';
  return {
    ownContextTakeover: !answer.clientNoContextTakeover && offer.clientNoContextTakeover !== true,
    ownWindowBits: typeof answeredClientBits === 'number' ? answeredClientBits : typeof offeredClientBits === 'number' ? offeredClientBits : 15,
    peerContextTakeover: !answer.serverNoContextTakeover,
    peerWindowBits: answer.serverMaxWindowBits ?? 15,
  };
}

/** The client's side: offers permessage-deflate and checks the server's answer against the offers. */
export function clientPerMessageDeflate(options: ClientDeflateOptions = {}): ExtensionFactory {
  const offers = options.offers ?? [{}];
  if (!Array.isArray(offers) || offers.length === 0) throw new InvalidArgumentError('deflate offers must be a non-empty array');
  const wire = offers.map(offerParams);
  const threshold = checkInteger('deflate threshold', options.threshold ?? DeflateDefaults.threshold, 0, Number.MAX_SAFE_INTEGER);
  const level = checkInteger('deflate level', options.level ?? DeflateDefaults.level, 0, 9);
  return {
    name: PerMessageDeflateName,
    offers: () => wire.map((params) => ({ name: PerMessageDeflateName, params: { ...params } })),
    acceptAnswer(answer: ExtensionOffer): Extension {
      const answered = readParameters(answer, true);
      if (typeof answered === 'string') throw new Error(`Invalid permessage-deflate answer: ${answered}`);
      let reason = '';
      for (const offer of offers) {
        const agreement = agreementFor(offer, answered);
        if (typeof agreement !== 'string') return new PerMessageDeflate(agreement, threshold, level, 8);
        reason ||= agreement;
      }
      throw new Error(`The permessage-deflate answer matches no offer: ${reason}`);
    },
  };
}

// ---- the extension ----------------------------------------------------------------------------

/** RFC 7692 7.2.1/7.2.2: the empty stored block a sender strips and a receiver appends. */
const Tail = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EmptyBlock = Buffer.from([0x00]);
const Rsv1 = 0x40;
const Unlimited = Number.MAX_SAFE_INTEGER;

/**
 * zlib contexts of this thread for connections without context takeover: one decompressor (a
 * 32 KiB window reads any peer's), one compressor per window size and level. Safe to share
 * because every use runs to its end, and resets, before the next begins.
 */
let sharedInflater: RawZlib | null = null;
const sharedDeflaters = new Map<number, RawZlib>();

/**
 * Without context takeover a message never reaches back further than itself, so a message of at
 * most SmallMessage bytes loses nothing with a 4 KiB window, and the smaller context resets far
 * faster (the reset clears the hash table: 64 KiB at memLevel 8, 8 KiB at 5).
 */
const SmallMessage = 4096;
const SmallWindowBits = 12;

function sharedDeflater(windowBits: number, level: number): RawZlib {
  const key = windowBits * 16 + level;
  let deflater = sharedDeflaters.get(key);
  if (deflater === undefined || deflater.closed) {
    deflater = RawZlib.deflater(windowBits, level, windowBits - 7);
    sharedDeflaters.set(key, deflater);
  }
  return deflater;
}

function inflaterShared(): RawZlib {
  if (sharedInflater === null || sharedInflater.closed) sharedInflater = RawZlib.inflater(15);
  return sharedInflater;
}

function joined(parts: Buffer[], total: number): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/**
 * The window a message compressed for every connection of a server gets: the largest its
 * connections may have agreed (in `dedicated` mode the server's windowBits; in `shared` any up
 * to 15). A connection that agreed a smaller one gets the message uncompressed.
 */
export function compressedWindowBits(settings: DeflateSettings): number {
  return settings.mode === DeflateMode.Dedicated ? settings.windowBits : 15;
}

/**
 * `payload` compressed by a fresh context, as one permessage-deflate message for any number of
 * connections (the tail removed, 7.2.1); undefined below the threshold or when it would not
 * shrink. With nothing before it in the compressor, it reads the same whatever each receiver's
 * window holds.
 */
export function compressForMany(payload: Uint8Array, settings: DeflateSettings): Uint8Array | undefined {
  if (payload.length < settings.threshold) return undefined;
  const compressed = deflateMessage(sharedDeflater(compressedWindowBits(settings), settings.level), payload, true);
  return compressed.length < payload.length ? compressed : undefined;
}

/**
 * One message through `deflater` (Z_SYNC_FLUSH), as permessage-deflate sends it: the tail
 * removed (7.2.1). `reset`: the deflater forgets the message afterwards (no context takeover).
 */
function deflateMessage(deflater: RawZlib, payload: Uint8Array, reset: boolean): Buffer {
  const parts: Buffer[] = [];
  let total: number;
  try {
    total = deflater.process(payload, parts, 0, Unlimited);
  } finally {
    if (reset) deflater.reset();
  }
  // zlib flushes nothing when it holds nothing (an empty message after another): that is sent
  // as the header byte of an empty stored block, which the receiver's tail completes (7.2.3.6).
  const compressed = total === 0 ? EmptyBlock : joined(parts, total);
  return total >= 4 && compressed.subarray(total - 4).equals(Tail) ? compressed.subarray(0, total - 4) : compressed;
}

/** permessage-deflate live on one connection. */
export class PerMessageDeflate implements Extension {
  readonly name = PerMessageDeflateName;
  readonly rsvBits = Rsv1;
  readonly agreement: Readonly<DeflateAgreement>;
  readonly #threshold: number;
  readonly #level: number;
  readonly #memLevel: number;
  #deflater: RawZlib | null = null;
  #inflater: RawZlib | null = null;

  constructor(agreement: DeflateAgreement, threshold: number, level: number, memLevel: number) {
    this.agreement = agreement;
    this.#threshold = threshold;
    this.#level = level;
    this.#memLevel = Math.max(1, Math.min(9, memLevel));
  }

  encodeMessage(payload: Uint8Array): { payload: Uint8Array; rsv: number } {
    if (payload.length < this.#threshold) return { payload, rsv: 0 };
    const { ownContextTakeover, ownWindowBits } = this.agreement;
    const deflater = ownContextTakeover
      ? (this.#deflater ??= RawZlib.deflater(ownWindowBits, this.#level, this.#memLevel))
      : sharedDeflater(payload.length <= SmallMessage ? Math.min(ownWindowBits, SmallWindowBits) : ownWindowBits, this.#level);
    const compressed = deflateMessage(deflater, payload, !ownContextTakeover);
    // Without context takeover the peer never needs this message's window, so data that does
    // not shrink may go as it is.
    if (!ownContextTakeover && compressed.length >= payload.length) return { payload, rsv: 0 };
    return { payload: compressed, rsv: Rsv1 };
  }

  decodeMessage(payload: Uint8Array, _rsv: number, maxSize: number): Uint8Array {
    // Nothing to inflate; feeding the tail alone would desynchronise a kept window.
    if (payload.length === 0) return payload;
    const { peerContextTakeover, peerWindowBits } = this.agreement;
    const inflater = peerContextTakeover ? (this.#inflater ??= RawZlib.inflater(peerWindowBits)) : inflaterShared();
    const parts: Buffer[] = [];
    try {
      let total = inflater.process(payload, parts, 0, maxSize);
      total = inflater.process(Tail, parts, total, maxSize);
      // A sender may end a message with a final block (RFC 7692 7.2.3.4); zlib then reads no
      // further, so the next message needs a fresh stream.
      if (inflater.streamEnded) inflater.reset();
      return joined(parts, total);
    } catch (error) {
      if (error instanceof OutputLimitExceeded) {
        throw new WebSocketError(SocketError.MessageTooBig, `Compressed message inflates to more than the limit of ${maxSize} bytes`, CloseCode.TooMuchData);
      }
      if (error instanceof ZlibDataError) {
        throw new WebSocketError(SocketError.ProtocolViolation, 'Invalid compressed data in a permessage-deflate message', CloseCode.WrongDatatype);
      }
      throw error;
    } finally {
      if (!peerContextTakeover) inflater.reset();
    }
  }

  acceptsCompressed(windowBits: number): boolean {
    return windowBits <= this.agreement.ownWindowBits;
  }

  /**
   * The peer's window now holds a message our compressor never saw: with context takeover, our
   * next message must not reach back past it, so the compressor starts afresh (a reset deflater
   * refers only to what it compresses after the reset, which the peer has too).
   */
  compressedSent(): void {
    this.#deflater?.reset();
  }

  /** Frees this connection's zlib contexts. */
  close(): void {
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = null;
    this.#inflater = null;
  }
}
