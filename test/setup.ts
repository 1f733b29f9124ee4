/**
 * Run by `npm test` before AVA: installs what the tests need from outside npm (Debian's Chromium and python3-websockets)
 * once, up front, so that no test waits on apt-get inside its own time limit.
 */
import { ensureChromium } from './helpers/chromium.ts';
import { ensurePythonWebsockets } from './helpers/python-websockets.ts';

const started = Date.now();
const path = ensureChromium();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`test setup: chromium at ${path} (${seconds} s)`);
console.log(`test setup: python3-websockets ${ensurePythonWebsockets()}`);
