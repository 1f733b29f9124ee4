/**
 * Bun's server as a benchmark target: run by the Bun binary (bench-targets.ts forks it with
 * `--serve <spec>`), answering the parent over Node's IPC as the Node targets do. `Bun.serve`
 * with its built-in WebSocket server: one process, the JavaScript on its main thread. Echo, or
 * for 'broadcast' one topic that every connection subscribes to and `server.publish`, which
 * reaches the sender too. Bun's defaults otherwise, as `ws` runs with its own: a send past its
 * backpressure limit (16 MiB a connection) would be dropped, and the loads queue at most 2 MiB.
 */
import { parseArgs } from 'node:util';
import { answerParent, type TargetSpec } from './bench-targets.ts';

/** The little of Bun's API used here (its types are not a dependency of ours). */
interface BunSocket {
  send(message: string | Uint8Array): number;
  subscribe(topic: string): void;
}

interface BunServer {
  readonly port: number;
  upgrade(request: Request): boolean;
  publish(topic: string, message: string | Uint8Array): number;
  stop(closeActiveConnections: boolean): Promise<void>;
}

declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      maxPayloadLength: number;
      open?(socket: BunSocket): void;
      message(socket: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
  /** `true`: a full, synchronous collection. */
  gc(force: boolean): void;
};

const { values } = parseArgs({ options: { serve: { type: 'string' } } });
const spec = JSON.parse(values.serve!) as TargetSpec;
// As the ws target: no compression, messages up to 64 MiB.
const options = { perMessageDeflate: false, maxPayloadLength: 64 * 1024 * 1024 };
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, server) => (server.upgrade(request) ? undefined : new Response('WebSocket only', { status: 426 })),
  websocket: spec.load === 'broadcast'
    ? { ...options, open: (socket) => socket.subscribe('/'), message: (_socket, message) => void server.publish('/', message) }
    : { ...options, message: (socket, message) => void socket.send(message) },
});
// Bun.gc(true) is JavaScriptCore's synchronous full collection, for either kind asked.
answerParent(server.port, () => server.stop(true), () => Bun.gc(true));
