/**
 * `ws` servers for the load tester's tests: a correct echo, and echoes that misbehave in one
 * known way each, so that every error kind of the bench report can be provoked on purpose.
 */
import { WebSocketServer } from 'ws';

export type EchoBehaviour =
  | { kind: 'echo' }
  /** Flips one byte of every `every`-th reply. */
  | { kind: 'corrupt'; every: number }
  /** Closes each connection with `code` after echoing `after` messages. */
  | { kind: 'close'; after: number; code: number }
  /** Never answers every `every`-th message. */
  | { kind: 'drop'; every: number }
  /** Answers every message with `reply` instead of an echo (a chat server, say). */
  | { kind: 'other'; reply: string }
  /** Refuses the handshake (503) while `limit` connections are open. */
  | { kind: 'limit'; limit: number };

/** What the server saw, counted on its side. */
export interface ServerCounts {
  /** Handshakes completed. */
  accepted: number;
  /** Handshakes refused. */
  refused: number;
  /** Messages received. */
  messages: number;
  /** Pings received. */
  pings: number;
  open: number;
  peakOpen: number;
}

export interface TestServer {
  url: string;
  counts: ServerCounts;
  close(): Promise<void>;
}

export async function startWsEchoServer(behaviour: EchoBehaviour = { kind: 'echo' }): Promise<TestServer> {
  const counts: ServerCounts = { accepted: 0, refused: 0, messages: 0, pings: 0, open: 0, peakOpen: 0 };
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, accept) => {
      const ok = behaviour.kind !== 'limit' || counts.open < behaviour.limit;
      if (!ok) counts.refused++;
      accept(ok, 503);
    },
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => {
    let count = 0;
    counts.accepted++;
    counts.peakOpen = Math.max(counts.peakOpen, ++counts.open);
    socket.on('close', () => counts.open--);
    socket.on('ping', () => counts.pings++);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      count++;
      counts.messages++;
      if (behaviour.kind === 'other') {
        socket.send(behaviour.reply);
        return;
      }
      if (behaviour.kind === 'drop' && count % behaviour.every === 0) return;
      if (behaviour.kind === 'corrupt' && count % behaviour.every === 0) {
        data = Buffer.from(data);
        data[data.length - 1] = data[data.length - 1] === 0x61 ? 0x62 : 0x61;
      }
      socket.send(data, { binary: isBinary });
      if (behaviour.kind === 'close' && count === behaviour.after) socket.close(behaviour.code, 'test server closing');
    });
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
