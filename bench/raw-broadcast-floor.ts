/**
 * The floor of broadcasting from Node, for `npm run bench:broadcast`: a bare TCP server that
 * answers the upgrade and, for every 32-byte binary message a client sends, writes the 34-byte
 * server frame to every connection with one `socket.write` each, as `ws`'s loop does, with no
 * parsing, validation, or state beyond that. What it costs per delivery is what the kernel and
 * Node's stream layer cost; a WebSocket server that writes once per delivery cannot go below it.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { acceptKey } from '../src/shared/engine/accept-key.ts';

/** A client's message as the broadcast bench sends it: FIN + binary, masked, 32 bytes. */
const ClientFrameBytes = 2 + 4 + 32;
const PayloadBytes = 32;

export async function serveRawBroadcastFloor(): Promise<{ port: number; close(): Promise<void> }> {
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
      while (pending.length >= ClientFrameBytes) {
        const frame = Buffer.allocUnsafe(2 + PayloadBytes);
        frame[0] = 0x82;
        frame[1] = PayloadBytes;
        for (let i = 0; i < PayloadBytes; i++) frame[2 + i] = pending[6 + i]! ^ pending[2 + (i & 3)]!;
        for (const each of sockets) each.write(frame);
        pending = pending.subarray(ClientFrameBytes);
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
