/**
 * Python's `websockets` (Debian's python3-websockets) as an independent permessage-deflate peer:
 * installed with apt-get when missing, as Chromium is (test/helpers/chromium.ts).
 */
import { execFileSync } from 'node:child_process';
import { aptInstall } from './apt.ts';

/** Debian's interpreter, which Debian's package serves (a python3 earlier in PATH may not see it). */
export const PYTHON_PATH = '/usr/bin/python3';

function hasWebsockets(): boolean {
  try {
    execFileSync(PYTHON_PATH, ['-c', 'import websockets'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs python3-websockets if `import websockets` fails; returns its version. */
export function ensurePythonWebsockets(): string {
  if (!hasWebsockets()) aptInstall('python3-websockets');
  return execFileSync(PYTHON_PATH, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8' }).trim();
}
