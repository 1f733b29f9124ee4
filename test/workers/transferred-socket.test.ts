/**
 * A socket the owner moves to a pool thread is remade there around its handle
 * (src/workers/transferred-socket.ts). Node delivers a transferred `net.Socket` with its
 * properties in V8's dictionary mode; the remade one must be an ordinary object and carry the
 * connection's bytes both ways. Checked in a child process with `--allow-natives-syntax`, whose V8
 * flags reach its worker thread.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { canTransferSockets } from '../../src/main/pool-support.ts';

const run = promisify(execFile);

(canTransferSockets() ? test : test.skip)('a socket moved to a worker is remade as an ordinary object that carries the connection', async (t) => {
  const fixture = new URL('./fixtures/moved-socket-shape.ts', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, ['--allow-natives-syntax', fixture], { timeout: 20_000 });
  const report = JSON.parse(stdout.trim()) as { receivedFast: boolean; remadeFast: boolean; sameObject: boolean; receivedDestroyed: boolean; peerPort: number; clientPort: number; answer: string };
  t.log(`as Node delivered it: ${report.receivedFast ? 'fast' : 'dictionary'} properties`);
  t.true(report.remadeFast, 'the remade socket has fast properties');
  t.false(report.sameObject);
  t.true(report.receivedDestroyed, 'the socket as delivered is detached and destroyed');
  t.is(report.peerPort, report.clientPort, 'the remade socket is the client\'s connection');
  t.is(report.answer, 'echo:ping', 'bytes cross the remade socket both ways');
});
