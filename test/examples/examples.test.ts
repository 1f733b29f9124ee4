/**
 * Every program in examples/ run as a user runs it (its own process, `wsthreads` imported by
 * name, here resolved to src/ through the package's `wsthreads-source` export condition), over
 * real sockets, each stopped by a signal or by itself within a bound.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { outputMatches, runNode, startNode, type CliProcess } from '../helpers/wsthreads-cli.ts';
import { closed, nextMessage, openClient } from '../helpers/ws-await.ts';
import { hasOpenssl, makeTestPki } from '../client/support.ts';

const Source = '--conditions=wsthreads-source';
const BoundMs = 15_000;

async function startExample(t: import('ava').ExecutionContext, name: string, args: string[], firstLine: RegExp): Promise<{ example: CliProcess; url: string }> {
  const example = await startNode([Source, `examples/${name}`, ...args], BoundMs);
  t.teardown(() => example.kill());
  const match = firstLine.exec(example.firstLine);
  if (match === null) throw new Error(`unexpected first line ${JSON.stringify(example.firstLine)}`);
  return { example, url: match[1]! };
}

async function stopsOnSigterm(t: import('ava').ExecutionContext, example: CliProcess): Promise<void> {
  example.child.kill('SIGTERM');
  const { code, signal } = await example.exited(BoundMs);
  t.deepEqual({ code, signal }, { code: 0, signal: null }, example.stderr());
}

test('echo-server echoes text and binary, logs connections, and closes them with 1001 on SIGTERM', async (t) => {
  const { example, url } = await startExample(t, 'echo-server.ts', ['0'], /^Echo server listening on (ws:\/\/127\.0\.0\.1:\d+)$/);
  const client = await openClient(url);
  client.send('hello');
  t.is((await nextMessage(client)).data.toString(), 'hello');
  client.send(Buffer.from([1, 2, 3]));
  const binary = await nextMessage(client);
  t.true(binary.isBinary);
  t.deepEqual([...binary.data], [1, 2, 3]);
  const closing = closed(client, BoundMs);
  await stopsOnSigterm(t, example);
  t.is((await closing).code, 1001);
  t.regex(example.stdout(), /^connected: 127\.0\.0\.1:\d+$/m);
});

test('echo-client sends Hello, world! and prints the echo from echo-server', async (t) => {
  const { example, url } = await startExample(t, 'echo-server.ts', ['0'], /^Echo server listening on (ws:\/\/127\.0\.0\.1:\d+)$/);
  const result = await runNode([Source, 'examples/echo-client.ts', url], BoundMs);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'WebSocket connected\nMessage received: Hello, world!\nWebSocket disconnected (close code 1000)\n');
  await stopsOnSigterm(t, example);
  t.regex(example.stdout(), /^disconnected: 127\.0\.0\.1:\d+ \(close code 1000\)$/m);
});

test('echo-client reports a refused connection and exits 1', async (t) => {
  const { example, url } = await startExample(t, 'echo-server.ts', ['0'], /^Echo server listening on (ws:\/\/127\.0\.0\.1:\d+)$/);
  await stopsOnSigterm(t, example);
  const result = await runNode([Source, 'examples/echo-client.ts', url], BoundMs);
  t.is(result.code, 1);
  t.regex(result.stderr, /^cannot connect to ws:\/\/127\.0\.0\.1:\d+: /);
});

const tlsTest = hasOpenssl() ? test : test.skip;

tlsTest('secure-echo-client trusts the self-signed certificate it is given and gets its echo from secure-echo-server; an untrusting client is refused', async (t) => {
  const pki = makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-examples-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A self-signed certificate, as examples/README.md makes one; the client is given it as its CA.
  writeFileSync(join(dir, 'cert.pem'), pki.selfSignedCert);
  writeFileSync(join(dir, 'key.pem'), pki.selfSignedKey);
  const { example, url } = await startExample(t, 'secure-echo-server.ts', [join(dir, 'cert.pem'), join(dir, 'key.pem'), '0'],
    /^Secure echo server listening on (wss:\/\/localhost:\d+)$/);
  const result = await runNode([Source, 'examples/secure-echo-client.ts', join(dir, 'cert.pem'), url], BoundMs);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'WebSocket connected\nMessage received: Hello, secure world!\n');

  // Without the CA, the system roots do not know this certificate: refused, and said so.
  const untrusting = new WebSocket(url);
  const failure = await new Promise<Error>((resolve) => untrusting.once('error', resolve));
  t.regex(failure.message, /certificate/);
  await stopsOnSigterm(t, example);
  t.regex(example.stdout(), /^connected: 127\.0\.0\.1:\d+$/m);
});

test('chat-server serves its page over HTTP and relays each message to every other client', async (t) => {
  const { example, url } = await startExample(t, 'chat-server.ts', ['0'], /^Chat server listening on (ws:\/\/127\.0\.0\.1:\d+) /);
  const page = await fetch(url.replace(/^ws/, 'http') + '/');
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(await page.text(), /new WebSocket\(/);
  t.is((await fetch(url.replace(/^ws/, 'http') + '/elsewhere')).status, 404);

  const alice = await openClient(url);
  const bob = await openClient(url);
  const carol = await openClient(url);
  // A client's open comes before the server has taken the connection: wait until all three are in.
  await outputMatches(example, /\(3 in the chat\)$/m, BoundMs);
  const aliceHears: string[] = [];
  alice.on('message', (data: Buffer) => aliceHears.push(data.toString()));
  const bobHears = nextMessage(bob);
  const carolHears = nextMessage(carol);
  alice.send('hi all');
  t.is((await bobHears).data.toString(), 'hi all');
  t.is((await carolHears).data.toString(), 'hi all');
  // Bob's answer reaches Alice after her own message would have: she never got hers back.
  const aliceGetsAnswer = nextMessage(alice);
  bob.send('hi alice');
  t.is((await aliceGetsAnswer).data.toString(), 'hi alice');
  t.deepEqual(aliceHears, ['hi alice']);
  await stopsOnSigterm(t, example);
});
