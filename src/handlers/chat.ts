/**
 * The built-in chat handler (`wsthreads serve --chat`): every message goes to every connection,
 * on every worker thread, the sender included. Each thread delivers to its own connections and
 * relays the message to the other threads on a BroadcastChannel (which reaches every other
 * channel of that name in the process, and never the one that posted).
 *
 * The channel name comes from the module URL's `room` query (`chat.ts?room=x`), so that two
 * servers in one process keep their chats apart; default `wsthreads-chat`.
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { WebSocket } from '../shared/connection/websocket.ts';

type Relayed = { text: string } | { binary: Uint8Array };

const room = new URL(import.meta.url).searchParams.get('room') ?? 'wsthreads-chat';
const members = new Set<WebSocket>();
let channel: BroadcastChannel | undefined;

function deliver(message: Relayed): void {
  if ('text' in message) for (const member of members) member.sendTextMessage(message.text);
  else for (const member of members) member.sendBinaryMessage(message.binary);
}

function relay(): BroadcastChannel {
  if (channel === undefined) {
    channel = new BroadcastChannel(room);
    channel.onmessage = (event) => deliver((event as { data: Relayed }).data);
    // The chat must not keep a thread alive on its own.
    channel.unref();
  }
  return channel;
}

function publish(message: Relayed): void {
  deliver(message);
  relay().postMessage(message);
}

export default function chat(socket: WebSocket): void {
  relay();
  members.add(socket);
  socket.on('textMessageReceived', (text) => publish({ text }));
  socket.on('binaryMessageReceived', (data) => publish({ binary: new Uint8Array(data) }));
  socket.on('disconnected', () => members.delete(socket));
}
