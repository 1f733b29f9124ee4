/**
 * The floor of Node for the developer benchmarks: a bare TCP server that answers the upgrade with
 * a fixed 101 (only the accept key computed), answers a client's Close with its own and ends, and
 * for each data message does the least a WebSocket server must:
 * - 'echo': the message back to its sender, unmasked, in a server frame; every frame of one read
 *   leaves in one `socket.write` (the batching a good server does);
 * - 'broadcast': the server frame to every connection, one `socket.write` each, as `ws`'s
 *   broadcast loop does.
 * No validation (no UTF-8 check, no limits), no state but what was read and not used yet. What a
 * connection, a message or a delivery costs it is what the kernel and Node's `net.Socket` cost;
 * a WebSocket server on `net.Socket` cannot go below it.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { acceptKey } from '../src/shared/engine/accept-key.ts';
import { applyMask } from '../src/shared/engine/mask.ts';

export type RawFloorLoad = 'echo' | 'broadcast';

const Fin = 0x80;
const OpCodeClose = 0x8;
/** Above this many bytes of frames from one read, they leave in one writev instead of one copy. */
const CopyBelowBytes = 16 * 1024;

/** The server frame header for a payload of `length` bytes. */
function serverHeader(firstByte: number, length: number): Buffer {
  if (length < 126) return Buffer.from([firstByte, length]);
  if (length < 0x10000) {
    const header = Buffer.allocUnsafe(4);
    header[0] = firstByte;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
    return header;
  }
  const header = Buffer.allocUnsafe(10);
  header[0] = firstByte;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
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
      const start = this.#head(2);
      const length7 = start[1]! & 0x7f;
      const headerBytes = (length7 < 126 ? 2 : length7 === 126 ? 4 : 10) + 4;
      if (this.#buffered < headerBytes) break;
      const header = this.#head(headerBytes);
      const length = length7 < 126 ? length7 : length7 === 126 ? header.readUInt16BE(2) : Number(header.readBigUInt64BE(2));
      if (this.#buffered < headerBytes + length) break;
      const frame = this.#head(headerBytes + length);
      const firstByte = frame[0]!;
      const payload = frame.subarray(headerBytes, headerBytes + length);
      applyMask(payload, frame.subarray(headerBytes - 4, headerBytes), 0);
      this.#consume(headerBytes + length);
      if ((firstByte & 0x0f) === OpCodeClose) {
        // The Close echoed back, code and all, then the end of TCP.
        this.#closed = true;
        this.#socket.end(Buffer.concat([serverHeader(Fin | OpCodeClose, length), payload]));
        return;
      }
      const reply = serverHeader(firstByte, length);
      if (this.#load === 'broadcast') {
        const whole = Buffer.concat([reply, payload]);
        for (const each of this.#everyone) each.write(whole);
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
