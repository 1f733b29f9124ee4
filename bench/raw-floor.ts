/**
 * The floor of Node for the developer benchmarks: a bare TCP server that answers the upgrade with
 * a fixed 101 (only the accept key computed), answers a client's Close with its own and ends, and
 * for each data message does the least a WebSocket server must:
 * - 'echo': the message back to its sender, unmasked, in a server frame; every frame of one read
 *   leaves in one `socket.write` (the batching a good server does);
 * - 'broadcast': the server frame to every connection, the frames of one event-loop turn in
 *   one `socket.write` per connection (the same buffer for all), as a server that frames once
 *   per turn writes at the least.
 * Frame headers are read and written with the engine's frame codec; beyond that, no validation
 * (no UTF-8 check, no limits), no state but what was read and not used yet. What a connection, a
 * message or a delivery costs it is what the kernel and Node's `net.Socket` cost; a WebSocket
 * server on `net.Socket` cannot go below it.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { acceptKey } from '../src/shared/engine/accept-key.ts';
import { createFrameHeader, frameHeaderSize, MaxFrameHeaderSize, readFrameHeader, writeFrameHeader } from '../src/shared/engine/frame-codec.ts';
import { applyMask } from '../src/shared/engine/mask.ts';
import { OpCode } from '../src/shared/engine/opcode.ts';

export type RawFloorLoad = 'echo' | 'broadcast';

/** Above this many bytes of frames from one read, they leave in one writev instead of one copy. */
const CopyBelowBytes = 16 * 1024;

/** The header being read (one for every connection: it is done with before the next read). */
const header = createFrameHeader();

/** The unmasked server header for a frame of `opcode` (with the client's FIN and RSV) and `length` bytes. */
function serverHeader(fin: boolean, rsv: number, opcode: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(frameHeaderSize(length, false));
  writeFrameHeader(bytes, 0, fin, rsv, opcode, length, false);
  return bytes;
}

/** The frames to broadcast at the end of this turn, and to whom. */
let turnFrames: Buffer[] = [];
let turnAudience: Set<net.Socket> | undefined;

function broadcastThisTurn(everyone: Set<net.Socket>, frame: Buffer): void {
  if (turnFrames.push(frame) === 1) setImmediate(writeTurn);
  turnAudience = everyone;
}

function writeTurn(): void {
  const frames = Buffer.concat(turnFrames);
  turnFrames = [];
  for (const each of turnAudience!) each.write(frames);
}

/** One connection: what it has read and not used yet, as received (no copy until a frame is whole). */
class RawConnection {
  readonly #socket: net.Socket;
  readonly #load: RawFloorLoad;
  readonly #everyone: Set<net.Socket>;
  #upgraded = false;
  /** The Close is answered: nothing more is read. */
  #closed = false;
  #parts: Buffer[] = [];
  #buffered = 0;

  constructor(socket: net.Socket, load: RawFloorLoad, everyone: Set<net.Socket>) {
    this.#socket = socket;
    this.#load = load;
    this.#everyone = everyone;
  }

  /** The first `n` buffered bytes as one buffer (joined once, and kept joined). */
  #head(n: number): Buffer {
    if (this.#parts[0]!.length < n) this.#parts = [Buffer.concat(this.#parts, this.#buffered)];
    return this.#parts[0]!;
  }

  #consume(n: number): void {
    const first = this.#parts[0]!;
    this.#buffered -= n;
    if (first.length === n) this.#parts.shift();
    else this.#parts[0] = first.subarray(n);
  }

  read(chunk: Buffer): void {
    if (this.#closed) return;
    this.#parts.push(chunk);
    this.#buffered += chunk.length;
    if (!this.#upgraded && !this.#upgrade()) return;
    const out: Buffer[] = [];
    let outBytes = 0;
    while (this.#buffered >= 2) {
      const head = this.#head(Math.min(this.#buffered, MaxFrameHeaderSize));
      if (!readFrameHeader(head, 0, head.length, header)) break;
      const headerBytes = header.headerSize;
      const length = header.payloadLength;
      if (this.#buffered < headerBytes + length) break;
      const frame = this.#head(headerBytes + length);
      const payload = frame.subarray(headerBytes, headerBytes + length);
      if (header.masked) applyMask(payload, frame.subarray(header.maskOffset, headerBytes), 0);
      this.#consume(headerBytes + length);
      if (header.opcode === OpCode.Close) {
        // The Close echoed back, code and all, then the end of TCP.
        this.#closed = true;
        this.#socket.end(Buffer.concat([serverHeader(true, 0, OpCode.Close, length), payload]));
        return;
      }
      const reply = serverHeader(header.fin, header.rsv, header.opcode, length);
      if (this.#load === 'broadcast') {
        broadcastThisTurn(this.#everyone, Buffer.concat([reply, payload]));
        continue;
      }
      out.push(reply, payload);
      outBytes += reply.length + length;
    }
    if (out.length === 0) return;
    if (outBytes <= CopyBelowBytes) {
      this.#socket.write(Buffer.concat(out, outBytes));
      return;
    }
    this.#socket.cork();
    for (const part of out) this.#socket.write(part);
    this.#socket.uncork();
  }

  /** Answers the upgrade once its header block is in; false until then. */
  #upgrade(): boolean {
    const text = this.#head(this.#buffered);
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) return false;
    const key = /sec-websocket-key:\s*(\S+)/i.exec(text.subarray(0, end).toString('latin1'))?.[1] ?? '';
    this.#socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    this.#upgraded = true;
    this.#everyone.add(this.#socket);
    this.#consume(end + 4);
    return true;
  }
}

export async function serveRawFloor(load: RawFloorLoad): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    const connection = new RawConnection(socket, load, sockets);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => connection.read(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
