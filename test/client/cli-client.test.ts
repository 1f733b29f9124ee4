import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { WebSocket as WsSocket } from 'ws';
import https from 'node:https';
import type net from 'node:net';
import { closedPort, hasOpenssl, makeTestPki, next, startWsServer, within } from './support.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const node = `${root}node_modules/.bin/node`;
const cli = `${root}src/cli/wsthreads.ts`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `wsthreads client ...` as a real child process; `stdin` is written and then ended. */
function runCli(args: string[], stdin?: string): { done: Promise<Run>; kill(): void } {
  const child = spawn(node, [cli, 'client', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  if (stdin !== undefined) child.stdin.end(stdin);
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done: within(done, 20_000, 'the CLI to exit'), kill: () => child.kill() };
}

test('client --echo echoes text and binary messages byte for byte and exits 0 on a normal close', async (t) => {
  t.timeout(30_000);
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const messages: Array<{ data: Buffer; binary: boolean }> = [
    { data: Buffer.from('hello'), binary: false },
    { data: randomBytes(1000), binary: true },
    { data: Buffer.from(''), binary: false },
    { data: Buffer.alloc(0), binary: true },
    { data: Buffer.from('ünïcödé 😀 line\nbreak'), binary: false },
    { data: randomBytes(200_000), binary: true },
    { data: Buffer.from('x'.repeat(70_000)), binary: false },
  ];
  const arrived = next<[WsSocket]>(peer.wss, 'connection', 15_000);
  const run = runCli(['--echo', `${peer.url}/echo`]);
  t.teardown(() => run.kill());
  const [server] = await arrived;
  const echoes: Array<{ data: Buffer; binary: boolean }> = [];
  const allEchoed = new Promise<void>((resolve) => {
    server.on('message', (data: Buffer, binary: boolean) => {
      echoes.push({ data, binary });
      if (echoes.length === messages.length) resolve();
    });
  });
  for (const message of messages) server.send(message.data, { binary: message.binary });
  await within(allEchoed, 10_000, 'every echo');
  t.is(echoes.length, messages.length);
  for (const [index, message] of messages.entries()) {
    t.is(echoes[index]!.binary, message.binary, `message ${index} kind`);
    t.true(echoes[index]!.data.equals(message.data), `message ${index} bytes`);
  }
  server.close(1000, 'done');
  const result = await run.done;
  t.is(result.code, 0, result.stderr);
  t.is(result.stderr, '');
});

test('client exits non-zero with a one-line reason when the connection is refused', async (t) => {
  const port = await closedPort();
  const result = await runCli([`ws://127.0.0.1:${port}/`]).done;
  t.is(result.code, 1);
  t.regex(result.stderr, /^wsthreads client: Connection refused by 127\.0\.0\.1:\d+\n$/);
});

test('client sends stdin lines, prints what it receives, and closes when stdin ends', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const received: Array<[string, boolean]> = [];
  peer.wss.on('connection', (ws) => {
    ws.send('welcome');
    ws.send(Buffer.from([0xde, 0xad]), { binary: true });
    ws.on('message', (data: Buffer, binary: boolean) => received.push([data.toString(), binary]));
  });
  const closed = new Promise<[number, string]>((resolve) => {
    peer.wss.on('connection', (ws) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
  });
  const result = await runCli([`${peer.url}/`, '--binary-output', 'hex', '-H', 'X-Test: 1'], 'first line\nsecond line\n').done;
  t.is(result.code, 0, result.stderr);
  t.deepEqual(received, [['first line', false], ['second line', false]]);
  t.is((await within(closed, 5000, 'the server to see the close'))[0], 1000);
  // The two lines may arrive before or after the server's messages; both are printed, one per line.
  t.true(result.stdout.split('\n').includes('welcome'));
  t.true(result.stdout.split('\n').includes('[binary] dead'));
});

test('client --binary sends lines as binary messages', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const received: Array<[string, boolean]> = [];
  peer.wss.on('connection', (ws) => ws.on('message', (data: Buffer, binary: boolean) => received.push([data.toString(), binary])));
  const result = await runCli(['--binary', `${peer.url}/`], 'raw bytes\n').done;
  t.is(result.code, 0, result.stderr);
  t.deepEqual(received, [['raw bytes', true]]);
});

test('client exits non-zero when the server closes abnormally', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  peer.wss.on('connection', (ws) => ws.close(4000, 'kicked'));
  const run = runCli([`${peer.url}/`]);
  t.teardown(() => run.kill());
  const result = await run.done;
  t.is(result.code, 1);
  t.is(result.stderr, 'wsthreads client: connection closed with code 4000: kicked\n');
});

test('client rejects a malformed -H header with a one-line reason', async (t) => {
  const result = await runCli(['-H', 'no colon here', 'ws://127.0.0.1:9/']).done;
  t.not(result.code, 0);
  t.is(result.stderr.trim().split('\n').length, 1);
  t.regex(result.stderr, /Name: value/);
});

(hasOpenssl() ? test : test.skip)('client refuses a self-signed certificate unless --insecure', async (t) => {
  const pki = makeTestPki();
  const server = https.createServer({ cert: pki.selfSignedCert, key: pki.selfSignedKey });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer = await startWsServer({ server });
  peer.wss.on('connection', (ws) => {
    ws.on('message', () => ws.close(1000));
    ws.send('secure hello');
  });
  t.teardown(async () => {
    await peer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `wss://localhost:${(server.address() as net.AddressInfo).port}/`;
  const refused = await runCli([url]).done;
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^wsthreads client: TLS certificate of localhost rejected: .*self-signed.*\n$/);

  const accepted = await runCli(['--insecure', url], 'bye\n').done;
  t.is(accepted.code, 0, accepted.stderr);
  t.true(accepted.stdout.split('\n').includes('secure hello'));
});

test('client --auth answers a 401 (one Basic retry); without it the status line and the server\'s reason are printed', async (t) => {
  t.timeout(45_000);
  const expected = `Basic ${Buffer.from('ada:lovelace').toString('base64')}`;
  const peer = await startWsServer({
    verifyClient: (info, callback) => {
      if (info.req.headers.authorization === expected) callback(true);
      else callback(false, 401, 'Log in first', { 'WWW-Authenticate': 'Basic realm="cli"' });
    },
  });
  t.teardown(() => peer.close());
  const received: string[] = [];
  peer.wss.on('connection', (ws) => ws.on('message', (data) => received.push(data.toString())));

  const refused = await runCli(['--no-env-proxy', `${peer.url}/`]).done;
  t.is(refused.code, 1);
  t.is(refused.stderr, 'HTTP/1.1 401 Unauthorized\nwsthreads client: Unexpected HTTP status 401 Unauthorized: Log in first\n');

  const allowed = await runCli(['--no-env-proxy', '--auth', 'ada:lovelace', `${peer.url}/`], 'hello\n').done;
  t.is(allowed.code, 0, allowed.stderr);
  t.deepEqual(received, ['hello']);
});

const mtlsTest = hasOpenssl() ? test : test.skip;

mtlsTest('client --cert/--key presents a client certificate to a server that requires one', async (t) => {
  t.timeout(45_000);
  const { WebSocketServer } = await import('../../src/main/websocket-server.ts');
  const { PeerVerifyMode } = await import('../../src/shared/connection/peer-certificate.ts');
  const { SecureMode } = await import('../../src/shared/engine/state.ts');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const pki = makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-cli-mtls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of [['ca.pem', pki.caCert], ['client.pem', pki.clientCert], ['client.key', pki.clientKey]] as const) writeFileSync(join(dir, name), text);
  const subjects: string[] = [];
  const server = new WebSocketServer('mtls', SecureMode.Secure, {
    workers: 0,
    tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert },
    peerVerifyMode: PeerVerifyMode.VerifyPeer,
    upgradeHandler: (request) => {
      subjects.push(request.peerCertificate?.subject.CN ?? '');
      return { accept: true };
    },
  });
  t.teardown(() => server.destroy());
  // Taken at once, so that the client's closing handshake is answered.
  server.on('newConnection', () => server.nextPendingConnection());
  t.true(await server.listen('127.0.0.1', 0));
  const url = `wss://localhost:${server.serverPort()}/`;

  const anonymous = await runCli(['--no-env-proxy', '--ca', join(dir, 'ca.pem'), url], '').done;
  t.is(anonymous.code, 1);
  const run = await runCli(['--no-env-proxy', '--ca', join(dir, 'ca.pem'), '--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key'), url], '').done;
  t.is(run.code, 0, run.stderr);
  t.deepEqual(subjects, ['ada']);
});
