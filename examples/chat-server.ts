/**
 * Qt's "Simple Chat" example: every message a client sends goes to every other client. The same
 * port serves the chat page to browsers (`httpRequestHandler`), so opening http://localhost:1234/
 * in two tabs is enough to try it.
 *
 *   npx node examples/chat-server.ts [port]        (default 1234; 0 picks a free port)
 */
import { WebSocketServer, SecureMode, type WebSocket } from 'wsthreads';

const page = `<!doctype html>
<meta charset="utf-8">
<title>wsthreads chat</title>
<ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus><button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const say = (line) => log.appendChild(document.createElement('li')).textContent = line;
  const socket = new WebSocket(location.href.replace(/^http/, 'ws'));
  socket.onopen = () => say('connected');
  socket.onmessage = (event) => say(event.data);
  socket.onclose = (event) => say('disconnected (' + event.code + ')');
  document.getElementById('form').onsubmit = (event) => {
    event.preventDefault();
    const text = document.getElementById('text');
    socket.send(text.value);
    say('me: ' + text.value);
    text.value = '';
  };
</script>
`;

const port = Number(process.argv[2] ?? 1234);
const server = new WebSocketServer('Chat Server', SecureMode.NonSecure, {
  httpRequestHandler: (request) => request.path === '/'
    ? { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: page }
    : { status: 404, body: 'not found\n' },
});
const clients = new Set<WebSocket>();

server.on('newConnection', () => {
  const sender = server.nextPendingConnection()!;
  clients.add(sender);
  console.log(`joined: ${sender.peerAddress()}:${sender.peerPort()} (${clients.size} in the chat)`);
  sender.on('textMessageReceived', (message) => {
    for (const client of clients) if (client !== sender) client.sendTextMessage(message);
  });
  sender.on('disconnected', () => {
    clients.delete(sender);
    console.log(`left: ${sender.peerAddress()}:${sender.peerPort()} (${clients.size} in the chat)`);
  });
});

// Ctrl-C: every client gets a Close (1001, going away) before the process ends.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.destroy());
if (!(await server.listen('127.0.0.1', port))) {
  console.error(`cannot listen: ${server.errorString()}`);
  process.exit(1);
}
console.log(`Chat server listening on ${server.serverUrl()} (chat page: ${server.serverUrl().replace(/^ws/, 'http')}/)`);
