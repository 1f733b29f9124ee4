/**
 * Loaded only by what needs it. ioredis is for servers that span machines; every other import of the package (a server
 * without Redis, the client, the load generator) must not pay its load time and memory. A fresh
 * process imports the package entry and reports whether ioredis is loaded, then makes a server
 * with Redis pub/sub and reports again: the second answer shows that the check can see it.
 */
import test from 'ava';
import WS from 'ws';
import { EchoHandlerUrl, startServer } from '../server/support.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const entry = new URL('../../src/index.ts', import.meta.url).href;

const script = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ioredisLoaded = () => Object.keys(require.cache).some((path) => path.includes('/node_modules/ioredis/'));
const { WebSocketServer } = await import(${JSON.stringify(entry)});
const afterImport = ioredisLoaded();
// Nothing listens on port 1: the bridge loads ioredis, tries, and is destroyed.
const server = new WebSocketServer('lazy', undefined, { workers: 0, pubsub: { redis: 'redis://127.0.0.1:1', maxReconnectDelayMs: 100 } });
await server.destroy();
console.log(JSON.stringify({ afterImport, afterRedisServer: ioredisLoaded() }));
`;

test('importing the package does not load ioredis; a server with Redis pub/sub does', async (t) => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  t.deepEqual(JSON.parse(stdout), { afterImport: false, afterRedisServer: true });
});

// node:tls costs each thread that loads it about 1.2 MiB: a plain server's pool threads never
// load it. The handler loads it on request and asks again, which shows the check can see it.
test('a plain server\'s pool thread does not load node:tls [workers: 1]', async (t) => {
  const server = await startServer(t, 1, { handler: EchoHandlerUrl });
  const client = new WS(server.serverUrl());
  t.teardown(() => client.terminate());
  const ask = (question: string): Promise<string> => new Promise((resolve) => {
    client.once('message', (data) => resolve(String(data)));
    client.send(question);
  });
  await new Promise((resolve, reject) => { client.once('open', resolve); client.once('error', reject); });
  t.is(await ask('tls?'), 'false');
  t.is(await ask('load tls'), 'true');
});
