import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { createServer } from 'node:https';
import { WebSocketServer as WsServer } from 'ws';
import type { BenchReport } from '../../src/loadgen/bench-report.ts';
import { shapeProblems } from '../helpers/bench-report-shape.ts';
import { htmlProblems } from '../helpers/html-balance.ts';
import { CLI, REPO, runCli } from '../helpers/wsthreads-cli.ts';
import type { CliResult } from '../helpers/wsthreads-cli.ts';
import { startWsEchoServer } from '../helpers/ws-echo-server.ts';
import { hasOpenssl, makeTestPki } from '../client/support.ts';

// Every run is short; the bound only stops a hung run from hanging the suite.
const RUN_BOUND_MS = 30_000;

function report(result: CliResult): BenchReport {
  if (result.timedOut) throw new Error(`bench did not finish; stderr: ${result.stderr}`);
  try {
    return JSON.parse(result.stdout) as BenchReport;
  } catch {
    throw new Error(`stdout is not one JSON object (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}

test.serial('against the embedded wsthreads echo server every message sent is received, and --json follows the schema', async (t) => {
  const result = await runCli(['bench', '-c', '10', '-n', '3000', '--json', '-q'], RUN_BOUND_MS);
  const r = report(result);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(shapeProblems(r), []);
  t.is(r.schema, 'wsthreads-bench/1');
  t.true(r.target.embeddedServer);
  t.regex(r.target.url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
  t.is(r.messages.sent, 3000);
  t.is(r.messages.received, 3000);
  t.is(r.messages.unanswered, 0);
  t.is(r.latencyMs.roundTrip.count, 3000);
  t.is(r.latencyMs.handshake.count, 10);
  t.like(r.connections, { attempted: 10, opened: 10, failed: 0, peakOpen: 10, firstFailureAtMs: null });
  t.deepEqual(r.closeCodes, { '1000': 10 });
  t.is(r.errors.total, 0);
  t.is(r.options.model, 'closed');
  t.is(r.exitCode, 0);
  t.true(r.latencyMs.roundTrip.p50 <= r.latencyMs.roundTrip.p99 && r.latencyMs.roundTrip.p99 <= r.latencyMs.roundTrip.max);
  t.is(r.timeline.reduce((n, s) => n + s.received, 0), 3000);
});

test.serial('against a ws echo server, binary, two generator threads: counts match and the threads are reported', async (t) => {
  const server = await startWsEchoServer();
  t.teardown(() => server.close());
  const result = await runCli(['bench', server.url, '-c', '8', '-d', '1.5', '--binary', '-s', '200', '-p', '4', '-w', '2', '--json', '-q'], RUN_BOUND_MS);
  const r = report(result);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(shapeProblems(r), []);
  t.false(r.target.embeddedServer);
  t.true(r.messages.sent > 100);
  t.is(r.messages.received, r.messages.sent);
  t.is(r.errors.total, 0);
  t.deepEqual(r.closeCodes, { '1000': 8 });
  t.is(r.options.binary, true);
  t.is(r.options.pipeline, 4);
  t.is(r.generators.length, 2);
  // 200-byte payloads framed with 2-byte length headers and 4-byte masks: at least 206 bytes each way per message.
  t.true(r.bytes.sent >= r.messages.sent * 206);
});

test.serial('each threshold breach exits with its own code: 3 for --max-p99, 4 for --max-errors, 5 for --min-rate', async (t) => {
  const good = await startWsEchoServer();
  const corrupt = await startWsEchoServer({ kind: 'corrupt', every: 10 });
  t.teardown(() => Promise.all([good.close(), corrupt.close()]));
  const base = ['-c', '2', '-n', '200', '--json', '-q'];

  const p99 = await runCli(['bench', good.url, ...base, '--max-p99', '0.0005'], RUN_BOUND_MS);
  t.is(p99.code, 3);
  t.like(report(p99).thresholds[0], { name: 'max-p99', limit: 0.0005, passed: false, exitCode: 3 });
  t.regex(p99.stderr, /--max-p99 0\.0005 ms/);

  const errors = await runCli(['bench', corrupt.url, ...base, '--max-errors', '0'], RUN_BOUND_MS);
  t.is(errors.code, 4);
  const errorsReport = report(errors);
  t.is(errorsReport.errors.byKind.mismatch, 20);
  t.is(errorsReport.errors.total, 20);

  const rate = await runCli(['bench', good.url, ...base, '--min-rate', '100000000'], RUN_BOUND_MS);
  t.is(rate.code, 5);

  const held = await runCli(['bench', good.url, ...base, '--max-p99', '10000', '--max-errors', '0', '--min-rate', '1'], RUN_BOUND_MS);
  t.is(held.code, 0);
  t.true(report(held).thresholds.every((r) => r.passed));

  const several = await runCli(['bench', corrupt.url, ...base, '--max-errors', '0', '--min-rate', '100000000'], RUN_BOUND_MS);
  t.is(several.code, 4, 'the lowest code of the breaches');
  t.deepEqual(report(several).thresholds.map((r) => r.passed), [false, false]);
});

test.serial('errors are counted by kind: unexpected close with its code, timeout, connect failure', async (t) => {
  const closing = await startWsEchoServer({ kind: 'close', after: 20, code: 4000 });
  const dropping = await startWsEchoServer({ kind: 'drop', every: 50 });
  t.teardown(() => Promise.all([closing.close(), dropping.close()]));

  const closed = report(await runCli(['bench', closing.url, '-c', '3', '-d', '1', '--json', '-q'], RUN_BOUND_MS));
  t.is(closed.errors.byKind.unexpectedClose, 3);
  t.is(closed.closeCodes['4000'], 3);
  t.is(closed.messages.received, 60);

  const dropped = report(await runCli(['bench', dropping.url, '-c', '2', '-d', '1', '--timeout', '300ms', '--json', '-q'], RUN_BOUND_MS));
  // Each connection loses its 50th message, times out waiting for it, and closes.
  t.is(dropped.errors.byKind.timeout, 2);
  t.is(dropped.messages.received, 98);
  t.is(dropped.messages.sent, 100);

  // A port nothing listens on: the server above, closed.
  const gone = await startWsEchoServer();
  await gone.close();
  const refused = await runCli(['bench', gone.url, '-c', '4', '-d', '1', '--json', '-q', '--max-errors', '0'], RUN_BOUND_MS);
  // Nothing connected: exit 2 whatever the thresholds.
  t.is(refused.code, 2);
  const refusedReport = report(refused);
  t.is(refusedReport.errors.byKind.connectFailed, 4);
  t.like(refusedReport.connections, { attempted: 4, opened: 0, failed: 4, peakOpen: 0 });
  t.true(refusedReport.connections.firstFailureAtMs !== null);
  t.regex(refusedReport.errors.samples[0]!, /ECONNREFUSED/);
});

test.serial('a run that measured nothing exits 2: no connection opened, or not one reply matched', async (t) => {
  const chat = await startWsEchoServer({ kind: 'other', reply: 'hello from the chat' });
  t.teardown(() => chat.close());
  const mismatched = await runCli(['bench', chat.url, '-c', '2', '-n', '50', '--json', '-q'], RUN_BOUND_MS);
  t.is(mismatched.code, 2);
  const r = report(mismatched);
  t.is(r.exitCode, 2);
  t.is(r.errors.byKind.mismatch, 50);
  t.true(r.warnings.includes('nothing was measured: none of the 50 replies matched a message sent'));

  const gone = await startWsEchoServer();
  await gone.close();
  const table = await runCli(['bench', gone.url, '-c', '2', '-d', '1', '-q'], RUN_BOUND_MS);
  t.is(table.code, 2);
  t.regex(table.stdout, /nothing was measured: no connection opened/);
});

test.serial('the open model reports its target and achieved rates, and --html writes a well-formed self-contained report', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, 'report.html');
  const result = await runCli(['bench', '-c', '10', '-R', '2000', '-d', '3', '--json', '-q', '--html', html], RUN_BOUND_MS);
  t.is(result.code, 0, result.stderr);
  const r = report(result);
  t.is(r.options.model, 'open');
  t.true(r.latencyMs.correctedForCoordinatedOmission);
  t.is(r.messages.received, r.messages.sent);
  // Functional, not fast: the rates are reported and agree with the counts (speed lives in benchmarks).
  t.true(r.messages.sent > 0);
  for (const achieved of [r.messages.sentPerSecond, r.messages.receivedPerSecond]) {
    t.true(Number.isFinite(achieved) && achieved > 0, `achieved ${achieved} msgs/s`);
  }
  t.log(`open model: ${r.messages.sentPerSecond.toFixed(0)} msgs/s for a target of 2000`);

  const page = readFileSync(html, 'utf8');
  t.true(page.startsWith('<!DOCTYPE html>'));
  t.deepEqual(htmlProblems(page), []);
  t.notRegex(page, /https?:\/\//);
  t.is((page.match(/<svg /g) ?? []).length, 3);
  const embedded = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(page);
  t.deepEqual(JSON.parse(embedded![1]!), r);
});

test.serial('progress: a live line rewritten in place on a terminal, one plain line per second in a pipe', async (t) => {
  const server = await startWsEchoServer();
  t.teardown(() => server.close());
  const args = ['bench', server.url, '-c', '2', '-d', '2.2'];

  // `script` from util-linux gives the command a pseudo-terminal.
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const terminal = await new Promise<string>((resolve, reject) => {
    execFile('script', ['-qfec', quoted, '/dev/null'], { cwd: REPO, timeout: RUN_BOUND_MS }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });
  t.regex(terminal, /\x1b\[1G\x1b\[2K\[[0-9.]+s \/ 2\.2s\] 2 conns \| [0-9,]+ msgs\/s \| p99 [0-9.]+ ms \| errors 0/);
  t.regex(terminal, /round trip/);

  const piped = await runCli(args, RUN_BOUND_MS);
  t.is(piped.code, 0);
  t.false(piped.stderr.includes('\x1b'));
  const lines = piped.stderr.split('\n').filter((line) => line.startsWith('['));
  t.true(lines.length >= 2 && lines.length <= 3, piped.stderr);
  for (const line of lines) t.regex(line, /^\[[0-9.]+s \/ 2\.2s\] \d+ conns \| [0-9,]+ msgs\/s \| p99 [0-9.]+ ms \| errors 0$/);
  t.regex(piped.stdout, /^wsthreads bench ws:\/\/127\.0\.0\.1:\d+\/\n/);
  t.regex(piped.stdout, /latency \(ms\) +p50 +p90 +p99 +p99\.9 +max/);
});

test.serial('bench merge: two real runs make one report whose counts are their sums and whose histogram holds every sample', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-merge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startWsEchoServer();
  t.teardown(() => server.close());
  const files: string[] = [];
  for (const n of ['300', '500']) {
    const result = await runCli(['bench', server.url, '-c', '2', '-n', n, '--json', '-q'], RUN_BOUND_MS);
    t.is(result.code, 0, result.stderr);
    files.push(join(dir, `${n}.json`));
    writeFileSync(files.at(-1)!, result.stdout);
  }
  const html = join(dir, 'merged.html');
  const merged = await runCli(['bench', 'merge', ...files, '--json', '--html', html, '--threshold', 'errors<=0', '--threshold', 'received>=800'], RUN_BOUND_MS);
  t.is(merged.code, 0, merged.stderr);
  const r = report(merged);
  t.deepEqual(shapeProblems(r), []);
  t.is(r.messages.received, 800);
  t.is(r.latencyMs.roundTrip.count, 800);
  t.is(r.histograms.roundTrip.count, 800);
  t.is(r.connections.opened, 4);
  t.true(r.thresholds.every((x) => x.passed));
  t.true(readFileSync(html, 'utf8').startsWith('<!DOCTYPE html>'));

  const breached = await runCli(['bench', 'merge', ...files, '--threshold', 'received>800'], RUN_BOUND_MS);
  t.is(breached.code, 6);
  t.regex(breached.stdout, /✓|✗/);
  t.regex(breached.stdout, /✗ received>800: 800 \(exit 6\)/);
  const notAReport = await runCli(['bench', 'merge', html], RUN_BOUND_MS);
  t.is(notAReport.code, 1);
  t.regex(notAReport.stderr, /merged\.html/);
});

test.serial('an unwritable --html path is refused before the run', async (t) => {
  const result = await runCli(['bench', 'ws://127.0.0.1:9/', '-c', '1', '-d', '30', '--html', '/nonexistent-dir/report.html', '-q'], RUN_BOUND_MS);
  t.is(result.code, 1);
  t.regex(result.stderr, /cannot write the HTML report to \/nonexistent-dir\/report\.html/);
  t.is(result.stdout, '');
});

test.serial('--json-stream writes one NDJSON line per second, then the report; the last second spans only to the run\'s end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-stream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'run.ndjson');
  const result = await runCli(['bench', '-c', '2', '-R', '1000', '-d', '1.5s', '--json-stream', file, '--json', '-q'], RUN_BOUND_MS);
  t.is(result.code, 0, result.stderr);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; second?: number; spanMs?: number; received?: number; report?: BenchReport });
  const seconds = lines.filter((l) => l.type === 'second');
  const summary = lines.at(-1)!;
  t.is(summary.type, 'summary');
  t.deepEqual(summary.report, report(result));
  t.deepEqual(seconds.map((s) => s.second), [0, 1]);
  t.is(seconds.reduce((n, s) => n + s.received!, 0), summary.report!.messages.received);
  t.is(seconds[0]!.spanMs, 1000);
  // 1.5 s of run: the second second holds half a second of load and the drain after it.
  t.true(seconds[1]!.spanMs! >= 500 && seconds[1]!.spanMs! < 1000, `span ${seconds[1]!.spanMs}`);
  t.deepEqual(summary.report!.timeline.map((e) => e.spanMs), seconds.map((s) => s.spanMs));
});

test.serial('over TLS (wss://, the socket read through data events) every echo is received and checked', async (t) => {
  if (!hasOpenssl()) {
    t.pass('openssl is not installed: no test CA');
    return;
  }
  const pki = makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-bench-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, pki.caCert);
  const https = createServer({ cert: pki.serverCert, key: pki.serverKey });
  const wss = new WsServer({ server: https });
  wss.on('connection', (socket) => socket.on('message', (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate();
    https.close(() => resolve());
  }));
  const { port } = https.address() as { port: number };
  const result = await runCli(['bench', `wss://localhost:${port}/`, '-c', '3', '-n', '3000', '-s', '300', '-p', '8', '--json', '-q'], RUN_BOUND_MS, { NODE_EXTRA_CA_CERTS: caFile });
  t.is(result.code, 0, result.stderr);
  const r = report(result);
  t.is(r.messages.received, 3000);
  t.is(r.latencyMs.roundTrip.count, 3000);
  t.is(r.errors.total, 0);
  t.deepEqual(r.closeCodes, { '1000': 3 });
});

test.serial('--start-at holds the run until the given time; a time that is not ISO 8601 is refused', async (t) => {
  const startAt = new Date(Date.now() + 1500);
  const result = await runCli(['bench', '-c', '2', '-n', '100', '--start-at', startAt.toISOString(), '--json', '-q'], RUN_BOUND_MS);
  t.is(result.code, 0, result.stderr);
  const r = report(result);
  t.true(Date.parse(r.startedAt) >= startAt.getTime(), `started ${r.startedAt}, asked ${startAt.toISOString()}`);
  t.is(r.messages.received, 100);
  const bad = await runCli(['bench', '-c', '1', '--start-at', 'tomorrow'], RUN_BOUND_MS);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /ISO 8601/);
});

test.serial('durations take units everywhere; a bare --timeout is still milliseconds, with a warning', async (t) => {
  const bare = await runCli(['bench', '-c', '1', '-n', '10', '--timeout', '2000', '--json', '-q'], RUN_BOUND_MS);
  t.is(bare.code, 0, bare.stderr);
  t.is(report(bare).options.timeoutMs, 2000);
  t.regex(bare.stderr, /--timeout 2000 is read as milliseconds/);
  const unit = await runCli(['bench', '-c', '1', '-n', '10', '--timeout', '2s', '--json', '-q'], RUN_BOUND_MS);
  t.is(report(unit).options.timeoutMs, 2000);
  t.is(unit.stderr, '');
  const wrong = await runCli(['bench', '-c', '1', '--ping', 'soon'], RUN_BOUND_MS);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /500ms, 10s or 2m/);
});
