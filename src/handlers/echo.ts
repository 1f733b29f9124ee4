/**
 * The built-in echo handler (`wsthreads serve --echo`, and the embedded server of `wsthreads
 * bench`): every message goes back to its sender, text as text and binary as binary. It runs in
 * every worker thread as a handler module, so echoing uses every core.
 */
import type { WebSocket } from '../shared/connection/websocket.ts';

export default function echo(socket: WebSocket): void {
  socket.on('textMessageReceived', (text) => socket.sendTextMessage(text));
  // The received bytes are this handler's alone: a large message goes back without a copy.
  socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data, { copy: false }));
}
