/**
 * Runs the `wsthreads` command line (or any Node program: the examples, the README's snippets)
 * as a real child process of the Node running the tests, with a time bound: a run that outlives
 * it is killed and reported.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams, SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withBound } from './ws-await.ts';

export const CLI = fileURLToPath(new URL('../../src/cli/wsthreads.ts', import.meta.url));
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** `env` is added to this process's environment for the child. */
export function runCli(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<CliResult> {
  return runNode([CLI, ...args], timeoutMs, REPO, env);
}

/** Any Node program (`nodeArgs` start with the script, or with Node's own flags), run to its end, bounded. */
export function runNode(nodeArgs: string[], timeoutMs: number, cwd = REPO, env: Record<string, string> = {}): Promise<CliResult> {
  return runProcess(process.execPath, nodeArgs, timeoutMs, { cwd, env: { ...process.env, ...env } });
}

/** Any program, run to its end, bounded. */
export function runProcess(command: string, args: string[], timeoutMs: number, options: SpawnOptions): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** A long-running command (serve): started, its first stdout line awaited (bounded). */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  firstLine: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code, or rejects if it has not exited within `timeoutMs` (then it is killed). */
  exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  kill(): void;
}

export function startCli(args: string[], timeoutMs: number): Promise<CliProcess> {
  return startNode([CLI, ...args], timeoutMs);
}

/** Any long-running Node program, started and its first stdout line awaited (bounded). */
export function startNode(nodeArgs: string[], timeoutMs: number, cwd = REPO): Promise<CliProcess> {
  return startProcess(process.execPath, nodeArgs, timeoutMs, { cwd });
}

/** Any long-running program, started and its first stdout line awaited (bounded). */
export function startProcess(command: string, args: string[], timeoutMs: number, options: SpawnOptions): Promise<CliProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, ...options, stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
    let stdout = '';
    let stderr = '';
    let started = false;
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      child.on('exit', (code, signal) => done({ code, signal }));
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no first line within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (started || newline < 0) return;
      started = true;
      clearTimeout(timer);
      resolve({
        child,
        firstLine: stdout.slice(0, newline),
        stdout: () => stdout,
        stderr: () => stderr,
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
        exited: async (bound) => {
          const start = performance.now();
          let boundTimer: NodeJS.Timeout | undefined;
          const result = await Promise.race([
            exit,
            new Promise<never>((_, fail) => {
              boundTimer = setTimeout(() => {
                child.kill('SIGKILL');
                fail(new Error(`did not exit within ${bound} ms; stderr: ${stderr}`));
              }, bound);
            }),
          ]).finally(() => clearTimeout(boundTimer));
          return { ...result, ms: performance.now() - start };
        },
      });
    });
    child.on('exit', (code) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before its first line; stderr: ${stderr}`));
      }
    });
  });
}

/** Resolves once the process's stdout (so far and to come) matches `pattern`. */
export function outputMatches(job: CliProcess, pattern: RegExp, ms: number): Promise<void> {
  return withBound(new Promise<void>((resolve) => {
    const check = (): void => {
      if (!pattern.test(job.stdout())) return;
      job.child.stdout.off('data', check);
      resolve();
    };
    job.child.stdout.on('data', check);
    check();
  }), ms, `output ${pattern}`);
}
