import { Buffer } from 'node:buffer';
import { asBuffer } from './bytes.ts';
import { CloseCode } from './close-code.ts';
import { checkCloseToSend, MaxCloseReasonBytes, MaxControlPayload, encodeClosePayload, parseClosePayload, utf8Truncated } from './close-payload.ts';
import { EngineState, type EngineHandler, type EngineOptions } from './engine-types.ts';
import { SocketError, WebSocketError } from './errors.ts';
import { NoExtensions, type CompressedFrames, type Extension } from './extension.ts';
import { MaxFrameHeaderSize, createFrameHeader, frameHeaderSize, readFrameHeader } from './frame-codec.ts';
import { FrameWriter, PayloadUse } from './frame-writer.ts';
import { engineSettings, withEngineSetting, type EngineSettings } from './engine-settings.ts';
import { FragmentChargeBytes } from './limits.ts';
import { LivenessVerdict, livenessCheckIntervalMs, livenessVerdict, type LivenessTimeoutName } from './liveness.ts';
import { applyMask } from './mask.ts';
import type { MaskGenerator } from './mask-generator.ts';
import { OpCode, isReservedOpCode } from './opcode.ts';
import { Role } from './state.ts';
import { Utf8Validator, isValidUtf8 } from './utf8-validator.ts';

/**
 * The header being parsed, one per thread rather than one per connection: it lives from
 * `readFrameHeader` to the end of `#acceptHeader`, which copies what the frame needs and runs
 * no handler before it is done with it, so no other engine can use it meanwhile.
 */
const parsedHeader = createFrameHeader();

/** The mask key's 4 bytes for `applyMask`, filled from an engine's `#maskKey` just before each call. */
const maskKeyBytes = new Uint8Array(4);

/** What an engine holds while it holds no parts or Pongs (frozen: a push into it would throw). */
const NoParts = Object.freeze([]) as unknown as Uint8Array[];

const Reading = { Header: 0, Payload: 1, Stopped: 2 } as const;
type Reading = (typeof Reading)[keyof typeof Reading];

/** An engine's yes/no state, as the bits of one number (a server holds an engine per connection). */
const Flag = {
  /** The frame being read is its message's last. */
  Fin: 1 << 0,
  Masked: 1 << 1,
  HoldsFailures: 1 << 2,
  /** Inside `receive()`. */
  Receiving: 1 << 3,
  /** Bytes arrived since the last liveness check. */
  Heard: 1 << 4,
  /** The handler's frame callbacks are called (see setFrameSignals). */
  FrameSignals: 1 << 5,
} as const;

const EmptyPayload: Buffer = Buffer.alloc(0);
/** The engine's clock unless the options bring one (one function for every engine). */
const monotonicNow = (): number => performance.now();

/**
 * A clock reading as the engine keeps it: whole milliseconds. A field that only ever held small
 * integers keeps its value in place; once one engine stores a fraction there, V8 widens the field
 * for every engine of the thread, each then holding a 16-byte number object in it (until 2^31 ms,
 * 24.8 days, of the thread's clock). A millisecond is finer than any timeout here.
 */
function wholeMs(time: number): number {
  return Math.trunc(time);
}

/**
 * What an engine holds only while its input is incomplete: a header split over reads, a payload
 * that spans them, a fragmented message. It is made when one starts and dropped at the end of a
 * read that leaves nothing incomplete, so an idle connection holds none of it (most never need it:
 * a small message comes whole in one read).
 */
class PartialInput {
  /** A header split over two reads, gathered. */
  headerStash: Uint8Array | undefined;
  stashed = 0;
  /**
   * The parts of a payload that spans reads, unmasked, joined once it is whole: what a peer
   * makes us hold is what it sent (a declared length reserves nothing), and a large payload is
   * copied once. A part that would pin a much larger read buffer is copied out of it.
   */
  payloadParts: Uint8Array[] = NoParts;
  payloadFilled = 0;
  /** A fragmented message's fragments so far, copied in; its length is the capacity, `messageLength` the bytes. */
  messageBuffer: Buffer = EmptyPayload;
  messageLength = 0;
  /** What the message counts against its limit: its bytes plus FragmentChargeBytes per frame after the first. */
  messageCharged = 0;
  fragmentCount = 0;
  /** For text that arrives in parts (a frame split over reads, a fragmented message); made by the first. */
  utf8: Utf8Validator | undefined;
  /** For the text frame signals of a fragmented message. */
  frameDecoder: TextDecoder | undefined;

  /** The first frame of a fragmented message, counting `charged` bytes. */
  startMessage(charged: number): void {
    this.messageLength = 0;
    this.messageCharged = charged;
    this.fragmentCount = 1;
    this.utf8?.reset();
  }
}

/** A protocol error found while messages before it are still with their listener (see `holdsFailures`). */
interface HeldFailure {
  code: CloseCode;
  kind: SocketError;
  message: string;
}


/**
 * The WebSocket protocol (RFC 6455) as a state machine over bytes: `receive()` takes whatever the
 * transport read and reports frames and messages to the handler; the send methods queue frame
 * bytes that the I/O layer collects with `takeOutput()`. No sockets, timers or threads, so the
 * same engine runs the client, the owner-thread server and every worker.
 *
 * Incoming frames are parsed straight out of each chunk: a payload that is wholly inside the chunk
 * is unmasked in place and handed on as a view, and only a payload that spans reads is copied,
 * into a buffer that grows as its bytes arrive (a declared length reserves nothing up front).
 * The frames of a fragmented message are copied into one growing buffer, so that what a
 * connection holds is its message, never the reads it came in.
 */
export class ProtocolEngine {
  readonly role: Role;
  readonly #handler: EngineHandler;
  readonly #writer: FrameWriter;
  readonly #extensions: readonly Extension[];
  readonly #claimedRsv: number;
  readonly #now: () => number;

  #state: EngineState = EngineState.Open;
  #closeCode: number = CloseCode.Normal;
  #closeReason = '';

  /** Limits and timeouts, shared with the engines made with the same (see engine-settings.ts). */
  #settings: Readonly<EngineSettings>;
  /** Automatic Pongs not written into the frame writer yet (so that the older can be dropped). */
  #pongs: Uint8Array[] = NoParts;
  #pongBytesQueued = 0;
  /** Pong wire bytes taken since the transport last drained. */
  #pongBytesUndrained = 0;
  #lastPingAt: number;
  // The liveness clock (see checkLiveness): when bytes were last heard, as of the check that saw
  // them, and when the automatic Ping went out (-1 while none awaits an answer).
  #lastHeardAt: number;
  #pingSentAt = -1;

  // Incoming frame being read.
  #reading: Reading = Reading.Header;
  #opcode = 0;
  /** The frame's masking key, its 4 bytes in wire order as one 32-bit number (no buffer per connection). */
  #maskKey = 0;
  #payloadLength = 0;

  // Incoming message (opcode 0: none in progress).
  #messageOpcode = 0;
  #messageRsv = 0;
  /** Only while input is incomplete (see PartialInput). */
  #partial: PartialInput | undefined;

  /** Bits of Flag. */
  #flags = 0;
  #heldFailure: HeldFailure | undefined;

  constructor(options: EngineOptions, handler: EngineHandler) {
    this.role = options.role;
    this.#handler = handler;
    this.#extensions = options.extensions ?? NoExtensions;
    this.#claimedRsv = this.#extensions.reduce((bits, extension) => bits | extension.rsvBits, 0);
    this.#now = options.now ?? monotonicNow;
    this.#lastPingAt = wholeMs(this.#now());
    this.#lastHeardAt = this.#lastPingAt;
    this.#settings = engineSettings(options);
    this.#writer = new FrameWriter(this.role === Role.Client, options.maskGenerator);
    if (handler.textFrame !== undefined || handler.binaryFrame !== undefined) this.#flags = Flag.FrameSignals;
  }

  /**
   * Whether the handler's frame callbacks are called. On from the start for a handler that has
   * them; a handler that always has them (one object for every event) turns them on when asked.
   */
  setFrameSignals(enabled: boolean): void {
    if (enabled) this.#flags |= Flag.FrameSignals;
    else this.#flags &= ~Flag.FrameSignals;
  }

  get state(): EngineState {
    return this.#state;
  }
  /** The code of the first Close frame received (1005 if it had none), else the code we failed or closed with; 1006 if the transport was lost without a Close. */
  get closeCode(): number {
    return this.#closeCode;
  }
  get closeReason(): string {
    return this.#closeReason;
  }

  /**
   * Whether the transport should be ended now, once the output is written: RFC 6455 7.1.1 has
   * the server close TCP first when the closing handshake is over (or the connection failed),
   * while a client waits for the server to do so. Every transport asks this rather than
   * deciding by role itself.
   */
  get endsTransport(): boolean {
    return this.#state === EngineState.Closed && this.role === Role.Server;
  }

  get maxAllowedIncomingFrameSize(): number {
    return this.#settings.maxAllowedIncomingFrameSize;
  }
  set maxAllowedIncomingFrameSize(value: number) {
    this.#settings = withEngineSetting(this.#settings, 'maxAllowedIncomingFrameSize', value);
  }
  get maxAllowedIncomingMessageSize(): number {
    return this.#settings.maxAllowedIncomingMessageSize;
  }
  set maxAllowedIncomingMessageSize(value: number) {
    this.#settings = withEngineSetting(this.#settings, 'maxAllowedIncomingMessageSize', value);
  }
  get outgoingFrameSize(): number {
    return this.#settings.outgoingFrameSize;
  }
  set outgoingFrameSize(value: number) {
    this.#settings = withEngineSetting(this.#settings, 'outgoingFrameSize', value);
  }
  get maxQueuedPongBytes(): number {
    return this.#settings.maxQueuedPongBytes;
  }
  set maxQueuedPongBytes(value: number) {
    this.#settings = withEngineSetting(this.#settings, 'maxQueuedPongBytes', value);
  }

  /**
   * When set, a protocol error found by `receive()` does not close at once: reading stops, the
   * connection stays open for sends, and `releaseFailure()` closes it. A transport whose listener
   * is in another thread uses it so that the replies to the messages that came before the error
   * go out before the Close, as they do when the listener runs inside `receive()`.
   */
  get holdsFailures(): boolean {
    return (this.#flags & Flag.HoldsFailures) !== 0;
  }
  set holdsFailures(value: boolean) {
    this.#flags = value ? this.#flags | Flag.HoldsFailures : this.#flags & ~Flag.HoldsFailures;
  }
  get hasHeldFailure(): boolean {
    return this.#heldFailure !== undefined;
  }
  /** Fails the connection with the held protocol error, if any (see `holdsFailures`). */
  releaseFailure(): void {
    const failure = this.#heldFailure;
    if (failure === undefined) return;
    this.#heldFailure = undefined;
    this.#fail(failure.code, failure.kind, failure.message);
  }
  /** A liveness timeout (see `LivenessTimeouts`), in milliseconds; 0 disables it. */
  timeout(name: LivenessTimeoutName): number {
    return this.#settings[name];
  }
  setTimeout(name: LivenessTimeoutName, ms: number): void {
    this.#settings = withEngineSetting(this.#settings, name, ms);
  }
  /** How often `checkLiveness` is worth calling for the current timeouts; 0 when none is set. */
  get livenessCheckIntervalMs(): number {
    return livenessCheckIntervalMs(this.#settings);
  }

  get maskGenerator(): MaskGenerator {
    return this.#writer.maskGenerator;
  }
  /** `null` restores the built-in generator, as Qt's `setMaskGenerator(nullptr)`. */
  set maskGenerator(generator: MaskGenerator | null) {
    this.#writer.maskGenerator = generator ?? undefined;
  }

  // ---- output -------------------------------------------------------------------------------

  /** Bytes queued in the engine and not yet taken. */
  get outputLength(): number {
    return this.#writer.length + this.#pongBytesQueued;
  }

  takeOutput(): Uint8Array[] {
    this.#writePongs();
    return this.#writer.take();
  }

  /** The transport has handed everything it was given to the kernel: the Pong budget is whole again. */
  outputDrained(): void {
    this.#pongBytesUndrained = 0;
  }

  /** Queues the automatic Pong of a Ping, within the byte budget; over it, the newest is kept. */
  #queuePong(payload: Uint8Array): void {
    const bytes = frameHeaderSize(payload.length, this.role === Role.Client) + payload.length;
    if (this.#pongBytesUndrained + this.#pongBytesQueued + bytes > this.#settings.maxQueuedPongBytes) {
      this.#pongs = NoParts;
      this.#pongBytesQueued = 0;
    }
    if (this.#pongs === NoParts) this.#pongs = [];
    // Copied: a view would keep the whole read it came in alive.
    this.#pongs.push(Uint8Array.prototype.slice.call(payload));
    this.#pongBytesQueued += bytes;
  }

  #writePongs(): void {
    if (this.#pongs.length === 0) return;
    for (const pong of this.#pongs) this.#writer.writeFrame(true, 0, OpCode.Pong, pong, 0, pong.length);
    this.#pongBytesUndrained += this.#pongBytesQueued;
    this.#pongs = NoParts;
    this.#pongBytesQueued = 0;
  }

  /** Every Close goes out after the Pongs already queued, and nothing after it. */
  #writeClose(payload: Uint8Array): void {
    this.#writePongs();
    this.#writer.writeFrame(true, 0, OpCode.Close, payload, 0, payload.length);
  }

  /** `transform` false sends the message as it is, past every extension (a per-send opt-out of compression). */
  sendText(text: string, transform = true): number {
    if (this.#state !== EngineState.Open) return 0;
    if (this.#extensions.length === 0 || !transform) {
      const written = this.#writer.tryWriteSmallText(text, this.#settings.outgoingFrameSize);
      if (written >= 0) return written;
    }
    // The encoded text is the engine's own: a large one goes out without another copy.
    return this.#sendMessage(OpCode.Text, Buffer.from(text, 'utf8'), transform, PayloadUse.Own);
  }

  /** `use`: what the writer may do with `data` (see PayloadUse); by default it copies it. */
  sendBinary(data: Uint8Array, transform = true, use: PayloadUse = PayloadUse.Copy): number {
    if (this.#state !== EngineState.Open) return 0;
    return this.#sendMessage(OpCode.Binary, data, transform, use);
  }

  /**
   * Queues a whole data message already framed by the caller (unmasked, as a server sends; see
   * message-frames.ts), for one message sent the same to many sockets. Returns the bytes queued,
   * 0 unless the connection is open. Extensions do not apply: the bytes go out as they are,
   * `compressed` instead of `frames` when the connection's compression takes it.
   */
  sendBuiltFrames(frames: Uint8Array, compressed?: CompressedFrames): number {
    if (this.#state !== EngineState.Open) return 0;
    const extension = this.#extensions.length === 1 ? this.#extensions[0]! : undefined;
    if (compressed !== undefined && extension?.acceptsCompressed?.(compressed.windowBits) === true) {
      extension.compressedSent?.();
      this.#writer.writeBuiltFrame(compressed.frames);
      return compressed.frames.length;
    }
    this.#writer.writeBuiltFrame(frames);
    return frames.length;
  }

  ping(payload: Uint8Array = EmptyPayload): void {
    if (this.#state === EngineState.Closed) return;
    const body = payload.length > MaxControlPayload ? payload.subarray(0, MaxControlPayload) : payload;
    this.#lastPingAt = wholeMs(this.#now());
    this.#writer.writeFrame(true, 0, OpCode.Ping, body, 0, body.length);
  }

  /**
   * Starts the closing handshake. 1005 sends a Close with no code. Codes that may never be sent
   * (1004, 1006, 1015, outside 1000-4999) are refused rather than put on the wire as Qt does.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    checkCloseToSend(code, reason);
    if (this.#state !== EngineState.Open) return;
    const payload = encodeClosePayload(code, reason);
    this.#writeClose(payload);
    this.#state = EngineState.CloseSent;
    this.#closeCode = code;
    this.#closeReason = payload.length > 2 ? asBuffer(payload).toString('utf8', 2) : '';
  }

  /** The transport is gone. Reports 1006 unless the closing handshake already finished. */
  connectionLost(): void {
    if (this.#state === EngineState.Closed) return;
    this.#state = EngineState.Closed;
    this.#stopReading();
    this.#heldFailure = undefined;
    this.#pongs = NoParts;
    this.#pongBytesQueued = 0;
    this.#closeCode = CloseCode.AbnormalDisconnection;
    this.#closeReason = '';
    this.#closeExtensions();
    this.#handler.closed(CloseCode.AbnormalDisconnection, '', false);
  }

  #sendMessage(opcode: number, data: Uint8Array, transform: boolean, use: PayloadUse): number {
    let payload = data;
    let rsv = 0;
    if (transform) {
      for (const extension of this.#extensions) {
        const encoded = extension.encodeMessage(payload);
        payload = encoded.payload;
        rsv |= encoded.rsv;
      }
    }
    // What an extension made may be shared with others (a constant, a block it keeps): copied.
    this.#writer.writeMessage(opcode, payload, rsv, this.#settings.outgoingFrameSize, payload === data ? use : PayloadUse.Copy);
    return data.length;
  }

  /**
   * The liveness check, driven by the caller's clock (a coarse tick is enough: see
   * `livenessVerdict`). Queues the automatic Ping after the idle timeout, and fails the connection
   * with 1001 when that Ping goes unanswered (`SocketError.IdleTimeout`) or when a frame or a
   * fragmented message stops arriving (`SocketError.FrameTimeout`, Qt's 5 s rule).
   * @param reading false while the transport is paused (the peer's silence proves nothing then)
   */
  checkLiveness(now: number, reading = true): LivenessVerdict {
    if (this.#state !== EngineState.Open) return LivenessVerdict.Alive;
    // Heard since the last check, or paused (the peer's bytes wait unread, so its silence proves
    // nothing): the clocks restart.
    if ((this.#flags & Flag.Heard) !== 0 || !reading) {
      this.#flags &= ~Flag.Heard;
      this.#lastHeardAt = wholeMs(now);
      this.#pingSentAt = -1;
      return LivenessVerdict.Alive;
    }
    const midFrame = this.#reading === Reading.Payload || (this.#partial?.stashed ?? 0) > 0 || this.#messageOpcode !== 0;
    const settings = this.#settings;
    const verdict = livenessVerdict(settings, now - this.#lastHeardAt, this.#pingSentAt < 0 ? -1 : now - this.#pingSentAt, midFrame);
    if (verdict === LivenessVerdict.Pinged) {
      this.#pingSentAt = wholeMs(now);
      this.ping();
    } else if (verdict === LivenessVerdict.IdleTimedOut) {
      this.#fail(CloseCode.GoingAway, SocketError.IdleTimeout,
        `No answer from the peer for ${settings.idleTimeout + settings.pongTimeout} ms (idle timeout, then no Pong)`);
    } else if (verdict === LivenessVerdict.FrameTimedOut) {
      this.#fail(CloseCode.GoingAway, SocketError.FrameTimeout, `Timeout when reading data from socket: a frame stopped arriving for ${settings.frameTimeout} ms`);
    }
    return verdict;
  }

  // ---- input --------------------------------------------------------------------------------

  receive(chunk: Uint8Array): void {
    this.#flags |= Flag.Heard | Flag.Receiving;
    try {
      this.#receiveChunk(chunk);
    } finally {
      this.#flags &= ~Flag.Receiving;
    }
  }

  #receiveChunk(chunk: Uint8Array): void {
    let position = 0;
    const end = chunk.length;
    while (this.#reading !== Reading.Stopped) {
      if (this.#reading === Reading.Header) {
        const header = parsedHeader;
        const partial = this.#partial;
        if (partial !== undefined && partial.stashed > 0) {
          // The previous chunk ended inside a header: complete it from this one.
          const stashed = partial.stashed;
          const take = Math.min(MaxFrameHeaderSize - stashed, end - position);
          const stash = partial.headerStash!;
          stash.set(chunk.subarray(position, position + take), stashed);
          if (!readFrameHeader(stash, 0, stashed + take, header)) {
            partial.stashed += take;
            return;
          }
          position += header.headerSize - stashed;
          partial.stashed = 0;
          if (!this.#acceptHeader(stash)) return;
        } else {
          if (position === end) {
            // The read ended between frames: unless a fragmented message goes on, nothing is partial.
            if (this.#messageOpcode === 0) this.#partial = undefined;
            return;
          }
          if (!readFrameHeader(chunk, position, end, header)) {
            const started = (this.#partial ??= new PartialInput());
            (started.headerStash ??= new Uint8Array(MaxFrameHeaderSize)).set(chunk.subarray(position, end), 0);
            started.stashed = end - position;
            return;
          }
          position += header.headerSize;
          if (!this.#acceptHeader(chunk)) return;
        }
        const length = this.#payloadLength;
        if (length === 0) {
          this.#frameComplete(EmptyPayload, false);
        } else if (end - position >= length) {
          const payload = chunk.subarray(position, position + length);
          position += length;
          if ((this.#flags & Flag.Masked) !== 0) this.#unmask(payload, 0);
          this.#frameComplete(payload, false);
        } else {
          const started = (this.#partial ??= new PartialInput());
          started.payloadParts = [];
          started.payloadFilled = 0;
          this.#reading = Reading.Payload;
        }
      } else {
        const partial = this.#partial!;
        const take = Math.min(this.#payloadLength - partial.payloadFilled, end - position);
        if (take === 0) return;
        const view = chunk.subarray(position, position + take);
        // A view holds its whole read buffer: kept only when it is most of it.
        const part = 2 * take >= view.buffer.byteLength ? view : Uint8Array.prototype.slice.call(view);
        position += take;
        if ((this.#flags & Flag.Masked) !== 0) this.#unmask(part, partial.payloadFilled);
        partial.payloadParts.push(part);
        partial.payloadFilled += take;
        // Text is validated as it arrives, so that bytes that can no longer be UTF-8 fail at once
        // rather than after the rest of a large frame has been buffered.
        if (this.#validatesTextIncrementally() && !(partial.utf8 ??= new Utf8Validator()).update(part)) {
          this.#failInvalidUtf8();
          return;
        }
        if (partial.payloadFilled === this.#payloadLength) {
          const parts = partial.payloadParts;
          partial.payloadParts = NoParts;
          this.#reading = Reading.Header;
          this.#frameComplete(parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#payloadLength), true);
        }
      }
    }
  }

  #unmask(bytes: Uint8Array, keyOffset: number): void {
    const key = this.#maskKey;
    maskKeyBytes[0] = key >>> 24;
    maskKeyBytes[1] = key >>> 16;
    maskKeyBytes[2] = key >>> 8;
    maskKeyBytes[3] = key;
    applyMask(bytes, maskKeyBytes, keyOffset);
  }

  #validatesTextIncrementally(): boolean {
    return this.#opcode < 0x8 && this.#messageOpcode === OpCode.Text && this.#messageRsv === 0;
  }

  /** Checks a parsed header against the protocol and the limits; copies what the frame needs. */
  #acceptHeader(source: Uint8Array): boolean {
    const header = parsedHeader;
    const opcode = header.opcode;
    if (this.role === Role.Server && !header.masked) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'Client frame is not masked');
    if (this.role === Role.Client && header.masked) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'Server frame is masked');
    if (isReservedOpCode(opcode)) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, `Reserved opcode 0x${opcode.toString(16)}`);
    if (header.lengthOverflow) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'Frame length has its most significant bit set');
    if (opcode >= 0x8) {
      if (!header.fin) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'Fragmented control frame');
      if (header.payloadLength > MaxControlPayload) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, `Control frame payload of ${header.payloadLength} bytes (at most 125)`);
      if (header.rsv !== 0) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'RSV bits set on a control frame');
    } else if (opcode === OpCode.Continuation) {
      if (this.#messageOpcode === 0) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'Continuation frame with no message to continue');
      if (header.rsv !== 0) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'RSV bits set on a continuation frame');
    } else {
      if (this.#messageOpcode !== 0) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, 'New message started before the fragmented message ended');
      if ((header.rsv & ~this.#claimedRsv) !== 0) return this.#fail(CloseCode.ProtocolError, SocketError.ProtocolViolation, `RSV bits 0x${header.rsv.toString(16)} set without a negotiated extension`);
    }
    const settings = this.#settings;
    if (header.payloadLength > settings.maxAllowedIncomingFrameSize) {
      return this.#fail(CloseCode.TooMuchData, SocketError.FrameTooBig, `Frame of ${header.payloadLength} bytes exceeds the limit of ${settings.maxAllowedIncomingFrameSize}`);
    }
    if (opcode < 0x8) {
      // A continuation's message is in progress (checked above), so its PartialInput is there.
      const partial = opcode === OpCode.Continuation ? this.#partial! : undefined;
      const charged = partial === undefined ? header.payloadLength : partial.messageCharged + header.payloadLength + FragmentChargeBytes;
      if (charged > settings.maxAllowedIncomingMessageSize) {
        const frames = partial === undefined ? '' : ` (frame ${partial.fragmentCount + 1}; each frame after the first counts ${FragmentChargeBytes} bytes more)`;
        return this.#fail(CloseCode.TooMuchData, SocketError.MessageTooBig, `Message of ${charged} bytes or more exceeds the limit of ${settings.maxAllowedIncomingMessageSize}${frames}`);
      }
      if (partial !== undefined) {
        partial.messageCharged = charged;
        partial.fragmentCount++;
      } else {
        this.#messageOpcode = opcode;
        this.#messageRsv = header.rsv;
        // A message in one frame keeps no count of its fragments.
        if (!header.fin) (this.#partial ??= new PartialInput()).startMessage(charged);
        else this.#partial?.utf8?.reset();
      }
    }
    this.#flags = (this.#flags & ~(Flag.Fin | Flag.Masked)) | (header.fin ? Flag.Fin : 0) | (header.masked ? Flag.Masked : 0);
    this.#opcode = opcode;
    this.#payloadLength = header.payloadLength;
    if (header.masked) {
      const at = header.maskOffset;
      // Signed 32 bits: a small integer to V8 (an unsigned one could need a box of its own).
      this.#maskKey = (source[at]! << 24) | (source[at + 1]! << 16) | (source[at + 2]! << 8) | source[at + 3]!;
    }
    return true;
  }

  /** A whole frame's payload, unmasked. `validated`: its text bytes already went through the validator. */
  #frameComplete(payload: Uint8Array, validated: boolean): void {
    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      this.#controlFrame(opcode, payload);
      return;
    }
    const fin = (this.#flags & Flag.Fin) !== 0;
    const handler = this.#handler;
    const compressed = this.#messageRsv !== 0;
    // The first frame of its message (continuations are opcode 0).
    const single = fin && opcode !== OpCode.Continuation;
    if (this.#messageOpcode === OpCode.Text && !compressed) {
      let valid: boolean;
      if (validated) valid = !fin || this.#partial!.utf8!.finish();
      else if (single) valid = isValidUtf8(payload);
      else {
        const utf8 = (this.#partial!.utf8 ??= new Utf8Validator());
        valid = utf8.update(payload) && (!fin || utf8.finish());
      }
      if (!valid) return this.#failInvalidUtf8();
    }

    if (single) {
      // The common case, a message in one frame: no copy, no list.
      this.#messageOpcode = 0;
      this.#deliverMessage(opcode, payload, compressed);
      return;
    }
    // A fragmented message: its first frame made the PartialInput.
    const partial = this.#partial!;
    this.#appendFragment(partial, payload);
    if (!compressed) {
      if (this.#messageOpcode === OpCode.Text) {
        if (this.#reportsFrames(handler.textFrame)) handler.textFrame!((partial.frameDecoder ??= new TextDecoder('utf-8')).decode(payload, { stream: !fin }), fin);
      } else if (this.#reportsFrames(handler.binaryFrame)) {
        handler.binaryFrame!(payload, fin);
      }
    }
    if (!fin || this.#state === EngineState.Closed || this.#reading === Reading.Stopped) return;
    const messageOpcode = this.#messageOpcode;
    const message = partial.messageBuffer.subarray(0, partial.messageLength);
    partial.messageBuffer = EmptyPayload;
    partial.messageLength = 0;
    this.#messageOpcode = 0;
    this.#deliverMessage(messageOpcode, message, compressed, !compressed);
  }

  #reportsFrames(callback: unknown): boolean {
    return (this.#flags & Flag.FrameSignals) !== 0 && callback !== undefined;
  }

  /** Copies a fragment into the message buffer, which grows by doubling up to the message limit. */
  #appendFragment(partial: PartialInput, payload: Uint8Array): void {
    const length = payload.length;
    if (length === 0) return;
    const needed = partial.messageLength + length;
    let buffer = partial.messageBuffer;
    if (needed > buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(needed, Math.min(this.#settings.maxAllowedIncomingMessageSize, Math.max(256, 2 * buffer.length))));
      buffer.copy(grown, 0, 0, partial.messageLength);
      partial.messageBuffer = buffer = grown;
    }
    buffer.set(payload, partial.messageLength);
    partial.messageLength = needed;
  }

  #deliverMessage(opcode: number, payload: Uint8Array, compressed: boolean, framesReported = false): void {
    const handler = this.#handler;
    let data = payload;
    if (compressed) {
      const decoded = this.#decodeExtensions(payload);
      if (decoded === null) return;
      data = decoded;
      if (opcode === OpCode.Text && !isValidUtf8(data)) return this.#failInvalidUtf8();
    }
    if (opcode === OpCode.Text) {
      const text = asBuffer(data).toString('utf8');
      if (!framesReported && this.#reportsFrames(handler.textFrame)) handler.textFrame!(text, true);
      handler.textMessage(text);
    } else {
      if (!framesReported && this.#reportsFrames(handler.binaryFrame)) handler.binaryFrame!(data, true);
      handler.binaryMessage(data);
    }
  }

  #decodeExtensions(payload: Uint8Array): Uint8Array | null {
    let data = payload;
    try {
      for (let index = this.#extensions.length - 1; index >= 0; index--) {
        const extension = this.#extensions[index]!;
        if ((this.#messageRsv & extension.rsvBits) !== 0) data = extension.decodeMessage(data, this.#messageRsv, this.#settings.maxAllowedIncomingMessageSize);
      }
    } catch (error) {
      const code = error instanceof WebSocketError && error.closeCode !== undefined ? error.closeCode : CloseCode.ProtocolError;
      const kind = error instanceof WebSocketError ? error.kind : SocketError.ProtocolViolation;
      this.#fail(code, kind, error instanceof Error ? error.message : String(error));
      return null;
    }
    return data;
  }

  #controlFrame(opcode: number, payload: Uint8Array): void {
    if (opcode === OpCode.Close) {
      this.#closeFrame(payload);
    } else if (opcode === OpCode.Ping) {
      if (this.#state === EngineState.Open) this.#queuePong(payload);
      this.#handler.pingReceived?.(payload);
    } else {
      this.#handler.pong(this.#now() - this.#lastPingAt, payload);
    }
  }

  #closeFrame(payload: Uint8Array): void {
    const parsed = parseClosePayload(payload);
    if (!parsed.ok) {
      this.#fail(parsed.code, parsed.code === CloseCode.WrongDatatype ? SocketError.InvalidUtf8 : SocketError.ProtocolViolation, parsed.message);
      return;
    }
    this.#stopReading();
    if (this.#state === EngineState.Open) {
      // The peer starts the closing handshake: echo its code and reason (RFC 6455 5.5.1), as ws
      // does, so that a browser that closed sees its own reason in its close event. The payload
      // just checked is those bytes already (the writer copies it before the read goes on).
      this.#writeClose(payload);
    }
    this.#state = EngineState.Closed;
    this.#closeCode = parsed.code;
    this.#closeReason = parsed.reason;
    this.#closeExtensions();
    this.#handler.closed(parsed.code, parsed.reason, true);
  }

  #failInvalidUtf8(): void {
    this.#fail(CloseCode.WrongDatatype, SocketError.InvalidUtf8, 'Invalid UTF-8 in a text message');
  }

  /** _Fail the WebSocket Connection_ (RFC 6455 7.1.7): send a Close with `code` and stop reading. */
  #fail(code: CloseCode, kind: SocketError, message: string): false {
    if (this.#state === EngineState.Closed) return false;
    this.#stopReading();
    if ((this.#flags & (Flag.HoldsFailures | Flag.Receiving)) === (Flag.HoldsFailures | Flag.Receiving) && this.#state === EngineState.Open) {
      this.#heldFailure ??= { code, kind, message };
      return false;
    }
    const reason = utf8Truncated(message, MaxCloseReasonBytes);
    if (this.#state === EngineState.Open) {
      const payload = encodeClosePayload(code, message);
      this.#writeClose(payload);
    }
    this.#state = EngineState.Closed;
    this.#closeCode = code;
    this.#closeReason = asBuffer(reason).toString('utf8');
    this.#closeExtensions();
    this.#handler.error(new WebSocketError(kind, message, code));
    this.#handler.closed(code, this.#closeReason, false);
    return false;
  }

  #stopReading(): void {
    this.#reading = Reading.Stopped;
    this.#partial = undefined;
    this.#messageOpcode = 0;
  }

  /** Nothing is sent or read once Closed: the extensions may free what they hold. */
  #closeExtensions(): void {
    for (const extension of this.#extensions) extension.close?.();
  }
}
