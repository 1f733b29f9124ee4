/**
 * The built-in chat handler (`wsthreads serve --chat`): a room per URL path. Each connection
 * subscribes to its path's topic, and every message it sends is published there: framed once,
 * delivered to every other member on every worker thread (and on every server sharing a Redis,
 * with `--redis`), and echoed to the sender, so that each member sees the whole conversation.
 */
import type { WebSocket } from '../shared/connection/websocket.ts';

/** The room of a connection: its request path, without the query. */
export function roomOf(socket: WebSocket): string {
  const path = socket.resourceName().split('?')[0]!;
  return path === '' ? '/' : path;
}

export default function chat(socket: WebSocket): void {
  const room = roomOf(socket);
  socket.subscribe(room);
  socket.on('textMessageReceived', (text) => {
    socket.publish(room, text);
    socket.sendTextMessage(text);
  });
  socket.on('binaryMessageReceived', (data) => {
    socket.publish(room, data);
    socket.sendBinaryMessage(data);
  });
}
