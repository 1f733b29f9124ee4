/**
 * Qt's "Secure Echo Server" example: the echo server over TLS (wss://). TLS runs in the worker
 * thread that holds each connection.
 *
 *   npx node examples/secure-echo-server.ts cert.pem key.pem [port]    (default 1234)
 *
 * A certificate for trying it out (valid for localhost, one day):
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
 *     -keyout key.pem -out cert.pem -subj /CN=localhost -addext subjectAltName=DNS:localhost
 */
import { readFileSync } from 'node:fs';
import { WebSocketServer, SecureMode } from 'wsthreads';

const [certFile, keyFile, portText = '1234'] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) {
  console.error('usage: secure-echo-server.ts cert.pem key.pem [port]');
  process.exit(2);
}
const server = new WebSocketServer('Secure Echo Server', SecureMode.Secure, {
  tls: { cert: readFileSync(certFile), key: readFileSync(keyFile) },
});

server.on('newConnection', () => {
  const socket = server.nextPendingConnection()!;
  console.log(`connected: ${socket.peerAddress()}:${socket.peerPort()}`);
  socket.on('textMessageReceived', (message) => socket.sendTextMessage(message));
  socket.on('binaryMessageReceived', (message) => socket.sendBinaryMessage(message));
});

// Ctrl-C: every client gets a Close (1001, going away) before the process ends.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.destroy());
if (!(await server.listen('127.0.0.1', Number(portText)))) {
  console.error(`cannot listen: ${server.errorString()}`);
  process.exit(1);
}
console.log(`Secure echo server listening on ${server.serverUrl().replace('127.0.0.1', 'localhost')}`);
