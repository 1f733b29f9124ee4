/**
 * permessage-deflate against python's `websockets` (Debian's python3-websockets, a third
 * implementation), both ways: its client against our server over both transports, our client
 * against its server; text and binary from 0 B to 16 MiB.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { WebSocket } from '../../src/shared/connection/websocket.ts';
import { PYTHON_PATH, ensurePythonWebsockets } from '../helpers/python-websockets.ts';
import { bothTransports, echoEveryConnection, next, startServer, within } from './support.ts';

const Peer = fileURLToPath(new URL('../fixtures/python-deflate-peer.py', import.meta.url));

test.before(() => {
  ensurePythonWebsockets();
});

/** Runs the peer script; resolves with its first JSON line; the process is ended at teardown. */
function startPeer(t: import('ava').ExecutionContext, args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(PYTHON_PATH, [Peer, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.stdin.end();
    if (child.exitCode === null) child.kill();
  });
  return within(new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
    child.once('exit', (code) => reject(new Error(`the python peer exited with ${code}`)));
  }), 60_000, 'the python peer');
}

for (const mode of ['shared', 'dedicated'] as const) {
  bothTransports(`python websockets client → our server (${mode}): text and binary from 0 B to 16 MiB`, async (t, workers) => {
    const server = await startServer(t, workers, { perMessageDeflate: { mode, threshold: 0 }, maxAllowedIncomingMessageSize: 32 * 1024 * 1024 });
    echoEveryConnection(server);
    const outcome = await startPeer(t, ['client', server.serverUrl()]);
    t.is(outcome['extensions'], mode === 'shared'
      ? 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'
      : 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    t.deepEqual(outcome['mismatches'], []);
  }, true);
}

test.serial('our client → python websockets server: text and binary from 0 B to 16 MiB', async (t) => {
  const { port } = await startPeer(t, ['server']) as { port: number };
  const socket = new WebSocket();
  socket.setMaxAllowedIncomingMessageSize(32 * 1024 * 1024);
  t.teardown(() => socket.abort());
  await within(socket.open(`ws://127.0.0.1:${port}/`, { deflate: { threshold: 0 } }), 10_000, 'the opening');
  t.regex(socket.extensions()[0] ?? '', /^permessage-deflate/);
  const unit = 'aé€{"key":"value","n":1} ';
  for (const size of [0, 1, 125, 126, 65_535, 65_536, 1024 * 1024, 16 * 1024 * 1024]) {
    const text = unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
    const reply = next<[string]>(socket, 'textMessageReceived', 60_000);
    socket.sendTextMessage(text);
    t.true((await reply)[0] === text, `text ${size}`);
    const data = Buffer.alloc(size, 'xyz');
    const binary = next<[Uint8Array]>(socket, 'binaryMessageReceived', 60_000);
    socket.sendBinaryMessage(data);
    t.true(Buffer.from((await binary)[0]).equals(data), `binary ${size}`);
  }
});
