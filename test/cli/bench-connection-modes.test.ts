/**
 * `wsthreads bench --mode storm` and `--mode hold` against a `ws` server and ours, with what the
 * report counts checked against what the server counted on its side. Every run is a second or two.
 */
import test from 'ava';
import type { BenchReport } from '../../src/loadgen/bench-report.ts';
import { ECHO_HANDLER_URL } from '../../src/loadgen/embedded-echo-server.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { shapeProblems } from '../helpers/bench-report-shape.ts';
import { runCli } from '../helpers/wsthreads-cli.ts';
import type { CliResult } from '../helpers/wsthreads-cli.ts';
import { startWsEchoServer } from '../helpers/ws-echo-server.ts';

const RUN_BOUND_MS = 30_000;

function report(result: CliResult): BenchReport {
  if (result.timedOut) throw new Error(`bench did not finish; stderr: ${result.stderr}`);
  return JSON.parse(result.stdout) as BenchReport;
}

/** Our server with the echo handler on one worker, counting the connections it accepted. */
async function startOurServer(): Promise<{ url: string; accepted: () => number; close(): Promise<void> }> {
  const server = new WebSocketServer('bench test', SecureMode.NonSecure, { workers: 1, handler: ECHO_HANDLER_URL });
  let accepted = 0;
  server.on('newConnection', () => accepted++);
  if (!(await server.listen('127.0.0.1', 0))) throw new Error(server.errorString());
  return { url: `${server.serverUrl()}/`, accepted: () => accepted, close: () => server.destroy() };
}

test.serial('a storm against ws: every handshake the server completed is one the report counts, each with its one message', async (t) => {
  const server = await startWsEchoServer();
  t.teardown(() => server.close());
  const result = await runCli(['bench', server.url, '--mode', 'storm', '--one-message', '-c', '4', '-d', '1', '--json', '-q'], RUN_BOUND_MS);
  const r = report(result);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(shapeProblems(r), []);
  t.is(r.options.mode, 'storm');
  t.true(r.connections.opened > 20, `only ${r.connections.opened} handshakes`);
  t.is(r.connections.opened, server.counts.accepted);
  t.is(r.latencyMs.handshake.count, r.connections.opened);
  t.is(r.messages.received, server.counts.messages);
  t.is(r.messages.received, r.connections.opened);
  t.is(r.closeCodes['1000'], r.connections.opened);
  t.is(r.errors.total, 0);
  t.true(r.connections.openedPerSecond > 0);
});

test.serial('a storm against our server on two generator threads: the counts match the server\'s', async (t) => {
  const server = await startOurServer();
  t.teardown(() => server.close());
  const result = await runCli(['bench', server.url, '--mode', 'storm', '-c', '6', '-w', '2', '-d', '1', '--json', '-q'], RUN_BOUND_MS);
  const r = report(result);
  t.is(result.code, 0, result.stderr);
  t.true(r.connections.opened > 20);
  t.is(r.connections.opened, server.accepted());
  t.is(r.messages.sent, 0);
  t.is(r.closeCodes['1000'], r.connections.opened);
  t.is(r.generators.length, 2);
});

test.serial('a hold against our server keeps every connection, pinged, until the end', async (t) => {
  const server = await startOurServer();
  t.teardown(() => server.close());
  const result = await runCli(['bench', server.url, '--mode', 'hold', '-c', '30', '--connect-rate', '200', '-d', '1.5', '--ping', '250ms', '--json', '-q'], RUN_BOUND_MS);
  const r = report(result);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(r.connections, { attempted: 30, opened: 30, failed: 0, openedPerSecond: r.connections.openedPerSecond, peakOpen: 30, firstFailureAtMs: null });
  t.is(server.accepted(), 30);
  // Pings go out every 250 ms from each of 30 connections, and every one gets its Pong.
  t.true(r.messages.sent >= 60, `${r.messages.sent} pings`);
  t.is(r.messages.received, r.messages.sent);
  t.is(r.latencyMs.roundTrip.count, r.messages.sent);
  t.is(r.closeCodes['1000'], 30);
});

test.serial('a hold in stages against ws ramps up, holds and ramps down; a server that refuses past a limit shows when', async (t) => {
  const server = await startWsEchoServer();
  const limited = await startWsEchoServer({ kind: 'limit', limit: 12 });
  t.teardown(() => Promise.all([server.close(), limited.close()]));
  const staged = report(await runCli(['bench', server.url, '--mode', 'hold', '--stages', '500ms:20,500ms:20,300ms:0', '--json', '-q'], RUN_BOUND_MS));
  t.is(staged.exitCode, 0);
  t.is(staged.connections.opened, 20);
  t.is(server.counts.accepted, 20);
  t.is(server.counts.peakOpen, 20);
  t.is(staged.connections.peakOpen, 20);
  t.is(staged.errors.total, 0);
  t.deepEqual(staged.options.stages, [{ durationMs: 500, target: 20 }, { durationMs: 500, target: 20 }, { durationMs: 300, target: 0 }]);

  const refused = report(await runCli(['bench', limited.url, '--mode', 'hold', '-c', '20', '--connect-rate', '100', '-d', '1', '--json', '-q'], RUN_BOUND_MS));
  t.is(refused.connections.opened, 12);
  t.is(limited.counts.accepted, 12);
  t.is(refused.connections.failed, 8);
  t.is(limited.counts.refused, 8);
  t.is(refused.errors.byKind.connectFailed, 8);
  // The 13th connection is due at 120 ms into the run.
  t.true(refused.connections.firstFailureAtMs !== null && refused.connections.firstFailureAtMs >= 100, String(refused.connections.firstFailureAtMs));
});

test.serial('connection-mode options are refused where they mean nothing', async (t) => {
  for (const args of [['--stages', '1s:3'], ['--mode', 'storm', '-n', '5'], ['--ping', '1s'], ['--mode', 'hold', '--one-message'], ['--mode', 'hold', '--stages', '1s:1', '-d', '2']]) {
    const result = await runCli(['bench', 'ws://127.0.0.1:9/', ...args, '-q'], RUN_BOUND_MS);
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stderr, /wsthreads bench: /);
  }
});
