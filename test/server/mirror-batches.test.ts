/**
 * The owner-side mirror decodes the worker's signal batches by their format, not by sniffing:
 * an echo server answering 7-byte messages writes 9-byte frames, so the worker's batches hold
 * `bytesWritten(9)` followed by more messages, which a reader that looked for the value of
 * `Disconnected` near the end of a batch took for the connection's end.
 */
import test from 'ava';
import { connect, startServer, within } from './support.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';

test('mirror connections with 7-byte echoes and bytesWritten listeners lose nothing [workers: 2]', async (t) => {
  const server = await startServer(t, 2);
  let refuse: (error: Error) => void = () => {};
  const refused = new Promise<never>((_resolve, reject) => { refuse = reject; });
  server.on('newConnection', () => {
    const socket: WebSocket = server.nextPendingConnection()!;
    // A listener makes the worker report bytesWritten (9 per echoed 7-byte frame).
    socket.on('bytesWritten', () => {});
    socket.on('textMessageReceived', (text) => {
      if (socket.sendTextMessage(text) === 0) refuse(new Error(`a send was refused on a ${socket.state()} socket`));
    });
  });
  const connections = 20;
  const echoesEach = 1500;
  const clients = await Promise.all(Array.from({ length: connections }, () => connect(t, server.serverUrl())));
  const echoes = Promise.all(clients.map((client) => new Promise<void>((resolve, reject) => {
    let sent = 0;
    let received = 0;
    const send = (): void => { sent++; client.send('abcdefg'); };
    client.on('message', (data) => {
      if (String(data) !== 'abcdefg') reject(new Error(`unexpected echo ${String(data)}`));
      received++;
      if (received === echoesEach) resolve();
      else if (sent < echoesEach) send();
    });
    client.on('close', (code) => reject(new Error(`closed with ${code} after ${received} echoes`)));
    send();
    send();
  })));
  await within(Promise.race([echoes, refused]), 30_000, `${connections * echoesEach} echoes`);
  t.pass();
});
