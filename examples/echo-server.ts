/**
 * Qt's "Echo Server" example: every message goes back to its sender, text as text and binary as
 * binary. The connections live in worker threads (one per core); each message is handled on the
 * main thread through the connection's `WebSocket`, exactly as with Qt.
 *
 *   npx node examples/echo-server.ts [port]        (default 1234; 0 picks a free port)
 */
import { WebSocketServer, SecureMode } from 'wsthreads';

const port = Number(process.argv[2] ?? 1234);
const server = new WebSocketServer('Echo Server', SecureMode.NonSecure);

server.on('newConnection', () => {
  const socket = server.nextPendingConnection()!;
  const peer = `${socket.peerAddress()}:${socket.peerPort()}`;
  console.log(`connected: ${peer}`);
  socket.on('textMessageReceived', (message) => socket.sendTextMessage(message));
  socket.on('binaryMessageReceived', (message) => socket.sendBinaryMessage(message));
  socket.on('disconnected', () => console.log(`disconnected: ${peer} (close code ${socket.closeCode()})`));
});

// Ctrl-C: every client gets a Close (1001, going away) before the process ends.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.destroy());
if (!(await server.listen('127.0.0.1', port))) {
  console.error(`cannot listen: ${server.errorString()}`);
  process.exit(1);
}
console.log(`Echo server listening on ${server.serverUrl()}`);
