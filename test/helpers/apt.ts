/** Debian packages the tests need from outside npm, installed with apt-get (the test machines run as root). */
import { execFileSync } from 'node:child_process';

export function aptInstall(name: string): void {
  const install = (): void => {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', name], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  try {
    install();
  } catch {
    // A fresh machine may have no package lists yet.
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    install();
  }
}
