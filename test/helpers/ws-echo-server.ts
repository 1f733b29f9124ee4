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
  | { kind: 'drop'; every: number };

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

export async function startWsEchoServer(behaviour: EchoBehaviour = { kind: 'echo' }): Promise<TestServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => {
    let count = 0;
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      count++;
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
