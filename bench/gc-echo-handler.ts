/**
 * The echo handler for the bench's memory figures: echoes like src/handlers/echo.ts, and on the
 * text `__gc__` runs a full GC of its worker thread instead (the bench forks servers with
 * --expose-gc, which worker threads inherit), so that RSS shows what connections hold rather
 * than garbage that is still to be collected.
 */
import type { WebSocket } from '../src/shared/connection/websocket.ts';

export const GcRequest = '__gc__';

export default function gcEcho(socket: WebSocket): void {
  socket.on('textMessageReceived', (text) => {
    if (text === GcRequest) (globalThis as { gc?: () => void }).gc?.();
    else socket.sendTextMessage(text);
  });
  socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data));
}
