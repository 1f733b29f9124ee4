/**
 * Qt's "Echo Client" example: connects, sends "Hello, world!", prints the reply and closes.
 *
 *   npx node examples/echo-client.ts [url]         (default ws://localhost:1234)
 */
import { WebSocket, CloseCode } from 'wsthreads';

const url = process.argv[2] ?? 'ws://localhost:1234';
const socket = new WebSocket();

socket.on('connected', () => {
  console.log('WebSocket connected');
  socket.sendTextMessage('Hello, world!');
});
socket.on('textMessageReceived', (message) => {
  console.log(`Message received: ${message}`);
  socket.close(CloseCode.Normal, 'done');
});
socket.on('disconnected', () => console.log(`WebSocket disconnected (close code ${socket.closeCode()})`));

try {
  await socket.open(url);
} catch (error) {
  console.error(`cannot connect to ${url}: ${(error as Error).message}`);
  process.exitCode = 1;
}
