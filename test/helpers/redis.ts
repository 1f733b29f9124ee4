/**
 * A real Redis for the tests: Debian's `redis-server` (installed with apt-get when missing, as
 * Chromium is), started on a free loopback port with nothing saved to disk, stopped by its own
 * PID only. `stop()` and `start()` again give the same port: a Redis that went away and came back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { aptInstall } from './apt.ts';
import net from 'node:net';

export const REDIS_SERVER_PATH = '/usr/bin/redis-server';

/** Installs Debian's redis-server if it is not there yet (as Chromium is, test/helpers/chromium.ts). */
export function ensureRedis(): string {
  if (existsSync(REDIS_SERVER_PATH)) return REDIS_SERVER_PATH;
  aptInstall('redis-server');
  if (!existsSync(REDIS_SERVER_PATH)) throw new Error(`apt-get installed redis-server but ${REDIS_SERVER_PATH} is missing`);
  return REDIS_SERVER_PATH;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface RedisProcess {
  port: number;
  url: string;
  /** Starts it (again, on the same port); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it (its PID only) and resolves once it has exited. */
  stop(): Promise<void>;
}

export async function startRedis(readyWithinMs = 10_000): Promise<RedisProcess> {
  const path = ensureRedis();
  const port = await freePort();
  let child: ChildProcess | undefined;
  const redis: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start: () => new Promise<void>((resolve, reject) => {
      const started = spawn(path, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      let output = '';
      const timer = setTimeout(() => {
        started.kill('SIGKILL');
        reject(new Error(`redis-server not ready within ${readyWithinMs} ms: ${output}`));
      }, readyWithinMs);
      started.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    }),
    stop: async () => {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGKILL');
      await exited;
    },
  };
  await redis.start();
  return redis;
}

// Run directly (`node test/helpers/redis.ts`) to install ahead of the tests.
if (import.meta.url === `file://${process.argv[1]}`) console.log(ensureRedis());
