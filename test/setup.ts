/**
 * Run by `npm test` before AVA: installs what the tests need from outside npm (Debian's Chromium,
 * python3-websockets and redis-server) once, up front, so that no test waits on apt-get inside
 * its own time limit.
 */
import { ensureChromium } from './helpers/chromium.ts';
import { ensurePythonWebsockets } from './helpers/python-websockets.ts';
import { ensureRedis } from './helpers/redis.ts';

for (const [name, ensure] of [['chromium', ensureChromium], ['redis-server', ensureRedis]] as const) {
  const started = Date.now();
  const path = ensure();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`test setup: ${name} at ${path} (${seconds} s)`);
}
console.log(`test setup: python3-websockets ${ensurePythonWebsockets()}`);
