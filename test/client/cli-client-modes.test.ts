/**
 * `wsthreads client` modes over real sockets against a `ws` server: --execute and --wait, a URL
 * without a scheme, slash commands on piped input, Ctrl-C as a normal close, and the terminal
 * mode (banner, prompt, marks, /ping, Ctrl-C) in a real pseudo-terminal made by util-linux
 * `script`.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import test from 'ava';
import type { WebSocket as WsSocket } from 'ws';
import { CLI, REPO, runCli } from '../helpers/wsthreads-cli.ts';
import { withBound } from '../helpers/ws-await.ts';
import { startWsServer } from './support.ts';

const BoundMs = 15_000;

/** The next close the server sees: [code, reason]. */
function serverSeesClose(peer: Awaited<ReturnType<typeof startWsServer>>): Promise<[number, string]> {
  return withBound(new Promise((resolve) => {
    peer.wss.once('connection', (ws: WsSocket) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
  }), BoundMs, 'the server to see a close');
}

function echoing(peer: Awaited<ReturnType<typeof startWsServer>>): void {
  peer.wss.on('connection', (ws: WsSocket) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
}

interface Child {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  errors(): string;
  /** Resolves once stdout so far matches. */
  shows(pattern: RegExp): Promise<void>;
  exit: Promise<number | null>;
}

function start(command: string, args: string[]): Child {
  const child = spawn(command, args, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = withBound(new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))), BoundMs, `${args.join(' ')} to exit`);
  exit.catch(() => child.kill('SIGKILL'));
  return {
    child,
    output: () => stdout,
    errors: () => stderr,
    exit,
    shows: (pattern) => withBound(new Promise<void>((resolve) => {
      const check = (): void => {
        if (!pattern.test(stdout)) return;
        waiters.splice(waiters.indexOf(check), 1);
        resolve();
      };
      waiters.push(check);
      check();
    }), BoundMs, `output ${pattern}; so far ${JSON.stringify(stdout)}`),
  };
}

test('--execute sends each message, prints the replies and closes with 1000 once each has its reply', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  echoing(peer);
  const closed = serverSeesClose(peer);
  const result = await runCli(['client', `${peer.url}/`, '-x', 'hello', '--execute', 'world'], BoundMs);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'hello\nworld\n');
  t.is(result.stderr, '');
  t.deepEqual(await closed, [1000, '']);
});

test('--execute against a server that never answers closes after --wait', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const heard: string[] = [];
  peer.wss.on('connection', (ws: WsSocket) => ws.on('message', (data) => heard.push(data.toString())));
  const closed = serverSeesClose(peer);
  const result = await runCli(['client', `${peer.url}/`, '-x', 'anyone there?', '-w', '200ms'], BoundMs);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, '');
  t.deepEqual(await closed, [1000, '']);
  t.deepEqual(heard, ['anyone there?']);
});

test('a URL without a scheme is taken as ws://', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  echoing(peer);
  const paths: string[] = [];
  peer.wss.on('connection', (_ws: WsSocket, request: { url?: string }) => paths.push(request.url ?? ''));
  const result = await runCli(['client', `127.0.0.1:${peer.port}/room`, '-x', 'no scheme'], BoundMs);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'no scheme\n');
  t.deepEqual(paths, ['/room']);
});

test('--slash on piped input: /ping prints the pong, //x sends /x, /close sends its code and reason and exits 0', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  echoing(peer);
  const closed = serverSeesClose(peer);
  const client = start(process.execPath, [CLI, 'client', `${peer.url}/`, '--slash']);
  client.child.stdin.write('/ping abc\n');
  await withBound(new Promise<void>((resolve) => client.child.stderr.on('data', () => {
    if (/^pong \(\d+\.\d ms\) abc$/m.test(client.errors())) resolve();
  })), BoundMs, 'the pong');
  client.child.stdin.write('//slash\n/nonsense\n');
  await client.shows(/^\/slash\n$/);
  client.child.stdin.write('/close 4000 bye now\n');
  t.deepEqual(await closed, [4000, 'bye now']);
  t.is(await client.exit, 0, client.errors());
  t.regex(client.errors(), /^unknown command \/nonsense /m);
  t.regex(client.errors(), /^Disconnected \(close code 4000: bye now\)$/m);
});

test('without --slash, piped lines starting with / are sent as they are', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  echoing(peer);
  const result = await runCli(['client', `${peer.url}/`, '-x', '/ping'], BoundMs);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, '/ping\n');
});

test('Ctrl-C (SIGINT) on piped input sends a Close (1000), prints the close code and exits 0', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  peer.wss.on('connection', (ws: WsSocket) => ws.send('welcome'));
  const closed = serverSeesClose(peer);
  const client = start(process.execPath, [CLI, 'client', `${peer.url}/`]);
  await client.shows(/^welcome\n/);
  client.child.kill('SIGINT');
  t.deepEqual(await closed, [1000, '']);
  t.is(await client.exit, 0, client.errors());
  t.is(client.errors(), 'Disconnected (close code 1000)\n');
});

const hasScript = spawnSync('script', ['--version']).status === 0;

(hasScript ? test : test.skip)('on a terminal: banner, prompt, < before what was received, /ping, and Ctrl-C closes with 1000', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  echoing(peer);
  const closed = serverSeesClose(peer);
  // script(1) runs the client on a fresh pseudo-terminal and relays our pipe to it as keystrokes.
  const command = [process.execPath, CLI, 'client', `${peer.url}/`].map((word) => `'${word}'`).join(' ');
  const terminal = start('script', ['-qfec', command, '/dev/null']);
  t.teardown(() => terminal.child.kill('SIGKILL'));
  await terminal.shows(/Connected to ws:\/\/127\.0\.0\.1:\d+\/\.\r?\n.*Ctrl-C closes\.\r?\n[^]*> /);
  terminal.child.stdin.write('hello\r');
  await terminal.shows(/< hello\r?\n/);
  terminal.child.stdin.write('/ping data\r');
  await terminal.shows(/< pong \(\d+\.\d ms\) data\r?\n/);
  terminal.child.stdin.write('\x03');
  t.deepEqual(await closed, [1000, '']);
  await terminal.shows(/Disconnected \(close code 1000\)\r?\n/);
  t.is(await terminal.exit, 0, terminal.errors());
  // What was typed stays on its prompt line ("> hello"): sent and received lines differ by their mark.
  t.regex(terminal.output(), />[^\n]*hello\r/);
});

test('--version on the program and on every command', async (t) => {
  const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
  for (const args of [['--version'], ['serve', '--version'], ['bench', '--version'], ['client', '--version'], ['client', '-V']]) {
    const result = await runCli(args, BoundMs);
    t.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    t.is(result.stdout, `${version}\n`, args.join(' '));
  }
});

