/**
 * The floor of Node for the developer benchmarks: a bare TCP server that answers the upgrade with
 * a fixed 101 (only the accept key computed), answers a client's Close with its own and ends, and,
 * for every 32-byte binary message, writes the 34-byte server frame to every connection with one
 * `socket.write` each, as `ws`'s broadcast loop does. No parsing beyond that, no validation, no
 * state but a pending buffer. What a connection or a delivery costs it is what the kernel and
 * Node's `net.Socket` cost; a WebSocket server on `net.Socket` cannot go below it.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { acceptKey } from '../src/shared/engine/accept-key.ts';

/** The client frames the benchmarks send: FIN + opcode, a masked length below 126, the key. */
const ClientHeaderBytes = 2 + 4;
const BinaryFinal = 0x82;
const CloseFinal = 0x88;

export async function serveRawFloor(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    let upgraded = false;
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(pending.subarray(0, end).toString('latin1'))?.[1] ?? '';
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
        upgraded = true;
        sockets.add(socket);
        pending = pending.subarray(end + 4);
      }
      while (pending.length >= ClientHeaderBytes) {
        const length = pending[1]! & 0x7f;
        if (pending.length < ClientHeaderBytes + length) return;
        if (pending[0] === CloseFinal) {
          // The Close echoed back, code and all, unmasked; then the end of TCP.
          const frame = Buffer.allocUnsafe(2 + length);
          frame[0] = CloseFinal;
          frame[1] = length;
          for (let i = 0; i < length; i++) frame[2 + i] = pending[6 + i]! ^ pending[2 + (i & 3)]!;
          socket.end(frame);
          return;
        }
        if (pending[0] === BinaryFinal) {
          const frame = Buffer.allocUnsafe(2 + length);
          frame[0] = BinaryFinal;
          frame[1] = length;
          for (let i = 0; i < length; i++) frame[2 + i] = pending[6 + i]! ^ pending[2 + (i & 3)]!;
          for (const each of sockets) each.write(frame);
        }
        pending = pending.subarray(ClientHeaderBytes + length);
      }
    });
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
