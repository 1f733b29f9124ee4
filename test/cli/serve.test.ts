import test from 'ava';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { launchChromium } from '../helpers/chromium.ts';
import { REPO, runCli, startCli } from '../helpers/wsthreads-cli.ts';
import type { CliProcess } from '../helpers/wsthreads-cli.ts';
import { closed, nextMessage, openClient, withBound } from '../helpers/ws-await.ts';
import { STATS_PATH } from '../../src/handlers/serve-stats.ts';
import type { ServeStatsSnapshot } from '../../src/handlers/serve-stats.ts';
import { clientFrame } from '../helpers/frames.ts';
import { rawUpgrade, upgradeRequest } from '../server/support.ts';

const STARTUP_MS = 15_000;
/** serve's own bound is 3 s; the process has to be gone well within this. */
const EXIT_BOUND_MS = 6000;

function portOf(serve: CliProcess): number {
  const match = /^wsthreads listening on ws:\/\/127\.0\.0\.1:(\d+) \((\d+) workers\)$/.exec(serve.firstLine);
  if (match === null) throw new Error(`unexpected first line ${JSON.stringify(serve.firstLine)}`);
  return Number(match[1]);
}

/** Reads the status feed until `done` holds for a snapshot (bounded). */
async function statsUntil(port: number, done: (s: ServeStatsSnapshot) => boolean, ms: number): Promise<ServeStatsSnapshot> {
  const feed = await openClient(`ws://127.0.0.1:${port}${STATS_PATH}`);
  try {
    return await withBound(
      new Promise<ServeStatsSnapshot>((resolve) => {
        feed.on('message', (data: Buffer) => {
          const snapshot = JSON.parse(data.toString()) as ServeStatsSnapshot;
          if (done(snapshot)) resolve(snapshot);
        });
      }),
      ms,
      'status feed',
    );
  } finally {
    feed.close();
  }
}

test.serial('serve prints its address first, echoes text and binary, and SIGTERM closes with 1001 and exits 0', async (t) => {
  const serve = await startCli(['serve', '--port', '0', '--workers', '2'], STARTUP_MS);
  t.teardown(() => serve.kill());
  t.regex(serve.firstLine, /^wsthreads listening on ws:\/\/127\.0\.0\.1:\d+ \(2 workers\)$/);
  const port = portOf(serve);
  const client = await openClient(`ws://127.0.0.1:${port}/`);
  const text = nextMessage(client);
  client.send('hello, echo');
  t.deepEqual(await text.then((m) => [m.data.toString(), m.isBinary]), ['hello, echo', false]);
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  const binary = nextMessage(client);
  client.send(bytes);
  t.deepEqual(await binary.then((m) => [m.data, m.isBinary]), [bytes, true]);

  const closing = closed(client, EXIT_BOUND_MS);
  serve.child.kill('SIGTERM');
  const { code: closeCode } = await closing;
  t.is(closeCode, 1001);
  const exit = await serve.exited(EXIT_BOUND_MS);
  t.is(exit.code, 0);
});

test.serial('serve --chat delivers every message to every connection of the room across two worker threads; the status feed lists the room', async (t) => {
  const serve = await startCli(['serve', '--port', '0', '--workers', '2', '--chat'], STARTUP_MS);
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const clients: WebSocket[] = [];
  for (let i = 0; i < 4; i++) clients.push(await openClient(`ws://127.0.0.1:${port}/`));
  // Every connection is counted on the feed; how they spread over the threads is reported only.
  const spread = await statsUntil(port, (s) => s.workers.reduce((n, w) => n + w.connections, 0) === 4, 10_000);
  t.log(`connections per worker: ${JSON.stringify(spread.workers.map((w) => w.connections))}`);
  // The room is the path's topic, and the page lists it with its members (no Redis: 'local').
  const topics = await statsUntil(port, (s) => s.pubsub?.topics[0]?.[1] === 4, 10_000);
  t.deepEqual(topics.pubsub?.topics, [['/', 4]]);
  t.is(topics.pubsub?.state, 'local');

  const received = clients.map(() => new Set<string>());
  const all = Promise.all(
    clients.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          client.on('message', (data: Buffer) => {
            received[i]!.add(data.toString());
            if (received[i]!.size === clients.length) resolve();
          });
        }),
    ),
  );
  clients.forEach((client, i) => client.send(`from ${i}`));
  await withBound(all, 5000, 'chat delivery');
  const expected = clients.map((_, i) => `from ${i}`);
  for (const set of received) t.deepEqual([...set].sort(), expected);

  serve.child.kill('SIGINT');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
});

test.serial('serve --handler runs the user module; --subprotocol, --max-message-size and --origin apply', async (t) => {
  const serve = await startCli(
    ['serve', '--port', '0', '--workers', '1', '--handler', 'test/fixtures/upper-handler.ts',
      '--subprotocol', 'upper.v1', '--max-message-size', '16', '--origin', 'http://good.example'],
    STARTUP_MS,
  );
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const url = `ws://127.0.0.1:${port}/`;

  const client = await openClient(url, 5000, ['other', 'upper.v1']);
  t.is(client.protocol, 'upper.v1');
  const reply = nextMessage(client);
  client.send('shout this');
  t.is((await reply).data.toString(), 'SHOUT THIS');
  const tooBig = closed(client);
  client.send('x'.repeat(17));
  t.is((await tooBig).code, 1009);

  // Programs send no Origin and are let in; browsers from a listed origin too; others get 403.
  const listed = new WebSocket(url, { origin: 'http://good.example' });
  await withBound(new Promise((resolve, reject) => { listed.once('open', resolve); listed.once('error', reject); }), 5000, 'listed origin');
  listed.close();
  const other = new WebSocket(url, { origin: 'http://evil.example' });
  const status = await withBound(
    new Promise<number>((resolve) => other.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))),
    5000,
    'denied origin',
  );
  t.is(status, 403);

  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
});

test.serial('the status page in Chromium: idle workers from the start (--min-workers), per-worker and total figures, close codes, --verbose log, and the message box back after a restart', async (t) => {
  let serve = await startCli(['serve', '--port', '0', '--workers', '2', '--min-workers', '2', '--verbose'], STARTUP_MS);
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  const external: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(`http://127.0.0.1:${port}/`) && !request.url().startsWith(`ws://127.0.0.1:${port}/`)) external.push(request.url());
  });
  const rows = (): Promise<string[][]> => page.$$eval('#workers tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.locator('#conn-status', { hasText: 'open' }).waitFor({ timeout: 10_000 });
  await page.locator('#stats-status', { hasText: 'live' }).waitFor({ timeout: 10_000 });
  // Both threads are listed although only one holds a connection (the page's own).
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#workers tr').length === 2, undefined, { timeout: 10_000 });
  t.true((await rows()).some((cells) => / \(idle\)$/.test(cells[0]!)), JSON.stringify(await rows()));

  await page.fill('#message', 'hello from chromium');
  await page.click('#send');
  await page.locator('#log li.received', { hasText: 'hello from chromium' }).waitFor({ timeout: 5000 });

  // Traffic from outside the page, so that the rates move, then a close with a code of its own.
  const client = await openClient(`ws://127.0.0.1:${port}/`);
  const ticker = setInterval(() => client.send('tick'), 20);
  t.teardown(() => clearInterval(ticker));
  // Each thread reports its own figures every half second: the page sums what has arrived.
  await page.waitForFunction(() => {
    const d = (globalThis as any).document;
    const number = (id: string): number => Number(d.getElementById(id).textContent.replace(/,/g, ''));
    return number('total-connections') >= 2 && number('total-in') > 0 && number('total-out') > 0 && !/^0 B/.test(d.getElementById('total-bytes-in').textContent);
  }, undefined, { timeout: 10_000 });
  for (const cells of await rows()) {
    t.is(cells.length, 11);
    t.regex(cells[7]!, /^\d+\.\d%$/, 'event-loop utilisation');
  }
  t.true((await rows()).some((cells) => /^\d+(\.\d)? (KiB|MiB)$/.test(cells[8]!)), 'a worker reports its heap');
  t.regex((await page.textContent('#memory')) ?? '', /^\d+(\.\d)? MiB$/);
  t.regex((await page.textContent('#uptime')) ?? '', /\d+ s$/);
  t.not(await page.getAttribute('#line-in', 'd'), '');
  t.not(await page.getAttribute('#line-in', 'stroke'), await page.getAttribute('#line-out', 'stroke'));
  t.is(await page.getAttribute('#line-out', 'stroke-dasharray'), '6 4');
  t.is(await page.getAttribute('#line-in', 'stroke-dasharray'), null);
  t.regex((await page.textContent('#legend')) ?? '', /in \(wide, blue\).*out \(dashed, red\)/s);
  clearInterval(ticker);
  const clientPort = (client as unknown as { _socket: { localPort: number } })._socket.localPort;
  client.close(4001, 'done ticking');
  await page.locator('#close-codes', { hasText: '4001 \u00d7 1' }).waitFor({ timeout: 10_000 });
  const dir = join(REPO, 'test-results');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'serve-page.png'), fullPage: true });

  // --verbose: both ends of the ticking connection, with its worker and close code.
  const log = serve.stdout();
  t.regex(log, new RegExp(`^connected {4}127\\.0\\.0\\.1:${clientPort} on worker \\d+ /$`, 'm'));
  t.regex(log, new RegExp(`^disconnected 127\\.0\\.0\\.1:${clientPort} on worker \\d+, close code 4001 \\(done ticking\\)$`, 'm'));

  // A restart on the same port: the message box and the figures come back by themselves.
  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
  await page.locator('#conn-status', { hasText: 'closed (1001), reconnecting' }).waitFor({ timeout: 10_000 });
  serve = await startCli(['serve', '--port', String(port), '--workers', '2'], STARTUP_MS);
  await page.locator('#conn-status', { hasText: 'open' }).waitFor({ timeout: 15_000 });
  await page.locator('#stats-status', { hasText: 'live' }).waitFor({ timeout: 15_000 });
  await page.fill('#message', 'after the restart');
  await page.click('#send');
  await page.locator('#log li.received', { hasText: 'after the restart' }).waitFor({ timeout: 5000 });
  t.deepEqual(external, []);

  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
});

test.serial('the status page comes from the WebSocket server\'s own port and says how its threads start; --no-page refuses plain HTTP with 400', async (t) => {
  const serve = await startCli(['serve', '--port', '0', '--workers', '3', '--min-workers', '1'], STARTUP_MS);
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const base = `http://127.0.0.1:${port}`;
  const page = await withBound(fetch(`${base}/`), 5000, 'GET /');
  t.is(page.status, 200);
  t.is(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.is(page.headers.get('connection'), 'close');
  const html = await page.text();
  t.regex(html, /<title>wsthreads serve<\/title>/);
  t.regex(html, /up to 3 worker threads: 1 started at once, the others as connections need them/);
  t.is(page.headers.get('content-length'), String(Buffer.byteLength(html)));
  const head = await withBound(fetch(`${base}/index.html?x=1`, { method: 'HEAD' }), 5000, 'HEAD /index.html');
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(Buffer.byteLength(html)));
  t.is((await withBound(fetch(`${base}/nothing-here`), 5000, 'GET /nothing-here')).status, 404);
  const post = await withBound(fetch(`${base}/`, { method: 'POST' }), 5000, 'POST /');
  t.is(post.status, 405);
  t.is(post.headers.get('allow'), 'GET, HEAD');
  // The same port still upgrades.
  const client = await openClient(`ws://127.0.0.1:${port}/`);
  const echo = nextMessage(client);
  client.send('same port');
  t.is((await echo).data.toString(), 'same port');
  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);

  const bare = await startCli(['serve', '--port', '0', '--workers', '1', '--no-page'], STARTUP_MS);
  t.teardown(() => bare.kill());
  t.is((await withBound(fetch(`http://127.0.0.1:${portOf(bare)}/`), 5000, 'GET / without a page')).status, 400);
  bare.child.kill('SIGTERM');
  t.is((await bare.exited(EXIT_BOUND_MS)).code, 0);
});

test.serial('the status feed counts connections dropped for silence and for a frame that stopped arriving', async (t) => {
  const serve = await startCli(['serve', '--port', '0', '--workers', '1', '--idle-timeout', '100', '--pong-timeout', '100', '--frame-timeout', '100'], STARTUP_MS);
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const silent = await rawUpgrade(t, port, upgradeRequest(port));
  t.is(silent.status, 101);
  const stalled = await rawUpgrade(t, port, upgradeRequest(port));
  // A frame header that declares 10 bytes, and none of them.
  stalled.socket.write(clientFrame({ opcode: 0x2, payload: Buffer.alloc(10) }).subarray(0, 6));
  const counted = await statsUntil(port, (s) => s.workers.some((w) => w.idleTimeouts >= 1) && s.workers.some((w) => w.frameTimeouts >= 1), 10_000);
  t.is(counted.workers.reduce((n, w) => n + w.idleTimeouts, 0), 1, JSON.stringify(counted.workers));
  t.is(counted.workers.reduce((n, w) => n + w.frameTimeouts, 0), 1);
  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
});

test.serial('--write-delay holds the echoes of messages sent 20 ms apart for one write; a delay over 1000 ms is refused', async (t) => {
  const serve = await startCli(['serve', '--port', '0', '--workers', '1', '--write-delay', '1000'], STARTUP_MS);
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const { socket, status } = await rawUpgrade(t, port, upgradeRequest(port));
  t.is(status, 101);
  const reads: number[] = [];
  let received = Buffer.alloc(0);
  const all = withBound(new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => {
    reads.push(chunk.length);
    received = Buffer.concat([received, chunk]);
    if (received.length >= 5 * 11) resolve();
  })), 10_000, 'five echoes');
  for (let i = 0; i < 5; i++) {
    socket.write(clientFrame({ opcode: 0x1, payload: `message ${i}` }));
    if (i < 4) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await all;
  t.deepEqual(reads, [5 * 11], 'five 11-byte frames in one read');
  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
  const refused = await runCli(['serve', '--port', '0', '--write-delay', '5000'], STARTUP_MS);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /writeDelay must be at most 1000 ms/);
});

test.serial('serve prints which worker thread died and why, and keeps serving', async (t) => {
  const serve = await startCli(['serve', '--port', '0', '--workers', '2', '--handler', 'test/server/fixtures/echo-handler.ts'], STARTUP_MS);
  t.teardown(() => serve.kill());
  const port = portOf(serve);
  const victim = await openClient(`ws://127.0.0.1:${port}/`);
  const dropped = closed(victim);
  victim.send('exit');
  t.is((await dropped).code, 1006);
  await withBound((async () => {
    while (!/thread \d+ died: /.test(serve.stderr())) await new Promise((resolve) => setTimeout(resolve, 20));
  })(), 10_000, 'the report of the dead thread');
  t.regex(serve.stderr(), /wsthreads serve: server error 1006: A worker thread failed: thread \d+ died: .+/);
  const fresh = await openClient(`ws://127.0.0.1:${port}/`);
  const echo = nextMessage(fresh);
  fresh.send('after the crash');
  t.is((await echo).data.toString(), 'after the crash');
  serve.child.kill('SIGTERM');
  t.is((await serve.exited(EXIT_BOUND_MS)).code, 0);
});

test.serial('serve --deflate negotiates permessage-deflate (shared by default, dedicated:BITS on request) and echoes through it', async (t) => {
  for (const [args, agreed] of [
    [['--deflate'], 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    [['--deflate=dedicated:10'], 'permessage-deflate; server_max_window_bits=10; client_max_window_bits=10'],
    [[], undefined],
  ] as const) {
    const serve = await startCli(['serve', '--port', '0', '--workers', '1', ...args], STARTUP_MS);
    t.teardown(() => serve.kill());
    const client = new WebSocket(`ws://127.0.0.1:${portOf(serve)}/`, { perMessageDeflate: { threshold: 0 } });
    let header: string | undefined;
    client.once('upgrade', (response) => { header = response.headers['sec-websocket-extensions']; });
    await withBound(new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    }), 5000, 'open');
    t.is(header, agreed, args.join(' '));
    const reply = nextMessage(client);
    const message = JSON.stringify({ hello: 'deflate', items: Array.from({ length: 50 }, (_, i) => i) });
    client.send(message);
    t.is((await reply).data.toString(), message);
    client.close();
    serve.child.kill('SIGTERM');
    await serve.exited(EXIT_BOUND_MS);
  }
});

test('serve --handler with a module that cannot load prints one line and exits 1', async (t) => {
  const result = await runCli(['serve', '--port', '0', '--workers', '1', '--handler', './no-such-handler.js'], STARTUP_MS);
  t.false(result.timedOut);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, result.stderr);
  t.regex(lines[0]!, /^wsthreads serve: cannot load the handler module \.\/no-such-handler\.js: Cannot find module '.*no-such-handler\.js'/);
});

test('serve with a bad option value prints the error and a one-line hint, not the whole help', async (t) => {
  const result = await runCli(['serve', '--port', 'eighty'], STARTUP_MS);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.deepEqual(result.stderr.trimEnd().split('\n'), [
    "error: option '--port <port>' argument 'eighty' is invalid. Expected a whole number, 0 or more.",
    "(run 'wsthreads serve --help' for its options)",
  ]);
});
