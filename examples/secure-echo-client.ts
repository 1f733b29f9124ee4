/**
 * Qt's "Secure Echo Client" example: the echo client over wss://, trusting the server's own
 * certificate (or its CA) given as a PEM file, with the certificate checks left on.
 *
 *   npx node examples/secure-echo-client.ts ca.pem [url]     (default wss://localhost:1234)
 */
import { readFileSync } from 'node:fs';
import { WebSocket, CloseCode } from 'wsthreads';

const [caFile, url = 'wss://localhost:1234'] = process.argv.slice(2);
if (caFile === undefined) {
  console.error('usage: secure-echo-client.ts ca.pem [url]');
  process.exit(2);
}
const socket = new WebSocket();

socket.on('sslErrors', (errors) => console.error(`TLS errors: ${errors.map((error) => error.code).join(', ')}`));
socket.on('textMessageReceived', (message) => {
  console.log(`Message received: ${message}`);
  socket.close(CloseCode.Normal);
});

try {
  await socket.open(url, { ca: readFileSync(caFile, 'utf8') });
  console.log('WebSocket connected');
  socket.sendTextMessage('Hello, secure world!');
} catch (error) {
  console.error(`cannot connect to ${url}: ${(error as Error).message}`);
  process.exitCode = 1;
}
