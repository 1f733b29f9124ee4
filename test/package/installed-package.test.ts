/**
 * The package as a user gets it (the TypeScript of docs/coming-from-ws.md is type-checked too): a copy of the working tree (tracked and new files, no dist/) is
 * packed with `npm pack`, which must build dist/ itself; the tarball is installed into a fresh
 * project (its dependencies from npm's cache when present), and there the README is run:
 * every `ts` block type-checked by TypeScript 7 and 5.9 under NodeNext and Bundler resolution
 * (strict, skipLibCheck off, no `types` given) and run in README order as a script (servers
 * started, checked over real sockets and stopped; the client run against the last one); the
 * command-line block run as written on the machine's own Node (the library's Node ≥ 20).
 *
 * The two first commands (`npm ci && npm start`, `npm ci && npm test`) are the ones running this
 * test; here `npm start` is run in the repository, bounded. `text` blocks are output, not code.
 * The bench section's own examples (a staged 50-second run, a merge of reports from several
 * machines) are not run here; test/cli/bench.test.ts covers those options.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { outputMatches, REPO, runNode, runProcess, startNode, startProcess, type CliProcess } from '../helpers/wsthreads-cli.ts';
import { closed, withBound } from '../helpers/ws-await.ts';
import { makeTestPki } from '../client/support.ts';

const BoundMs = 30_000;
/** TypeScript 5 checking all of @types/node (skipLibCheck off) takes seconds alone, and far longer on a loaded machine. */
const CompileBoundMs = 150_000;
/** The published typescript@5 line, installed into the consumer next to the repository's TypeScript 7. */
const TypeScript5 = 'typescript@5.9.3';

interface CodeBlock { lang: string; code: string; file: string | undefined }

function codeBlocks(markdown: string): CodeBlock[] {
  const readme = readFileSync(join(REPO, markdown), 'utf8');
  const blocks: CodeBlock[] = [];
  for (const match of readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const code = match[2]!;
    blocks.push({ lang: match[1]!, code, file: /^\/\/ ([\w.-]+\.ts)\n/.exec(code)?.[1] });
  }
  return blocks;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** The machine's own Node (the one users have), else the one running the tests. */
function systemNodeDir(): string {
  for (const dir of ['/usr/local/bin', '/usr/bin']) {
    const result = spawnSync(join(dir, 'node'), ['--version'], { encoding: 'utf8' });
    if (result.status === 0) return dir;
  }
  return dirname(process.execPath);
}

const work = mkdtempSync(join(tmpdir(), 'wsthreads-package-'));
const consumer = join(work, 'consumer');
const blocks = codeBlocks('README.md');
let tarballFiles: string[] = [];

test.before(async (t) => {
  t.timeout(BoundMs * 6); // a copy, a pack and an install
  // A fresh checkout: the files git knows of (and new ones not ignored), without dist/.
  const source = join(work, 'source');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter((file) => file !== '');
  for (const file of files) {
    try {
      cpSync(join(REPO, file), join(source, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // deleted in the work tree
    }
  }
  symlinkSync(join(REPO, 'node_modules'), join(source, 'node_modules'));
  const packed = await runProcess('npm', ['pack', '--json', '--pack-destination', work], BoundMs, { cwd: source });
  if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarballFiles = info!.files.map((file) => file.path);

  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const installed = await runProcess('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, info!.filename), `typescript5@npm:${TypeScript5}`], BoundMs * 2, { cwd: consumer });
  if (installed.code !== 0) throw new Error(`npm install failed: ${installed.stderr}`);
  // Node's types as the consumer's own devDependency would give them (linked, after npm's pruning).
  mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(REPO, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'));

  let index = 0;
  for (const block of blocks.filter((b) => b.lang === 'ts')) {
    block.file ??= `readme-${++index}.ts`;
    writeFileSync(join(consumer, block.file), block.code);
  }
  // The side-by-side page's TypeScript is type-checked with the README's (its `ws` half is not ours).
  codeBlocks('docs/coming-from-ws.md').filter((b) => b.lang === 'ts').forEach((block, i) => writeFileSync(join(consumer, `coming-from-ws-${i + 1}.ts`), block.code));
  const pki = makeTestPki();
  writeFileSync(join(consumer, 'cert.pem'), pki.selfSignedCert);
  writeFileSync(join(consumer, 'key.pem'), pki.selfSignedKey);
});

test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('npm pack builds dist/ into the tarball: code, declarations, the command, the license, no tests', (t) => {
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/shared/engine/index.js', 'dist/shared/engine/index.d.ts', 'dist/cli/wsthreads.js', 'LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']) {
    t.true(tarballFiles.includes(file), file);
  }
  t.false(tarballFiles.some((file) => file.startsWith('test/') || file.startsWith('examples/')));
});

const compilers = [
  ['TypeScript 7', join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')],
  ['TypeScript 5', join(consumer, 'node_modules', 'typescript5', 'bin', 'tsc')],
] as const;
const resolutions = [['NodeNext', 'nodenext', 'nodenext'], ['Bundler', 'preserve', 'bundler']] as const;

for (const [compiler, tsc] of compilers) {
  for (const [resolution, module, moduleResolution] of resolutions) {
    test(`the README's TypeScript compiles against the installed package: ${compiler}, ${resolution}`, async (t) => {
      t.timeout(CompileBoundMs + 10_000);
      const config = `tsconfig-${compiler.replace(' ', '')}-${resolution}.json`;
      writeFileSync(join(consumer, config), JSON.stringify({
        compilerOptions: { target: 'es2022', module, moduleResolution, strict: true, skipLibCheck: false, noEmit: true, allowImportingTsExtensions: true },
        include: ['*.ts'],
      }));
      const result = await runNode([tsc, '-p', config], CompileBoundMs, consumer);
      t.is(result.code, 0, result.stdout + result.stderr);
      t.regex(readFileSync(join(consumer, 'node_modules', 'wsthreads', 'dist', 'index.d.ts'), 'utf8'), /^\/\/\/ <reference types="node"/);
    });
  }
}

async function echoes(url: string, reply = 'hello', headers: Record<string, string> = {}): Promise<WebSocket> {
  const client = new WebSocket(url, { ca: readFileSync(join(consumer, 'cert.pem')), headers });
  await withBound(new Promise<void>((resolve, reject) => client.once('open', resolve).once('error', reject)), BoundMs, `open ${url}`);
  // A server may greet first (the permessage-deflate example does): wait for the echo itself.
  const echoed = withBound(new Promise<void>((resolve) => {
    client.on('message', (data: Buffer) => {
      if (data.toString() === reply) resolve();
    });
  }), BoundMs, `${url} to echo`);
  client.send('hello');
  await echoed;
  return client;
}

test.serial("the README's TypeScript runs as a script against the installed package", async (t) => {
  const port = await freePort();
  let server: CliProcess | undefined;
  const stop = async (): Promise<void> => {
    server?.kill();
    await server?.exited(BoundMs);
    server = undefined;
  };
  t.teardown(() => server?.kill());
  for (const block of blocks.filter((b) => b.lang === 'ts')) {
    writeFileSync(join(consumer, block.file!), block.code.replaceAll('8080', String(port)).replaceAll('8081', String(port)).replaceAll('8082', String(port)));
    // Blocks that read files the README makes with openssl (the mutual-TLS example) are
    // type-checked only; the test makes cert.pem and key.pem itself.
    const needs = [...block.code.matchAll(/readFileSync\('([\w.-]+)'/g)].map((match) => match[1]!);
    // The authenticationRequired client talks to the cookie-gated server shown several servers earlier.
    if (block.code.includes("on('authenticationRequired'")) {
      t.log(`${block.file}: type-checked, not run (its server is not the last one started)`);
      continue;
    }
    if (needs.some((file) => !existsSync(join(consumer, file)))) {
      t.log(`${block.file}: type-checked, not run (needs ${needs.join(', ')})`);
      continue;
    }
    // A server says where it listens and runs until stopped; any other block runs to its end.
    const listens = block.code.includes('listening on');
    if (!listens) {
      if (/^export /m.test(block.code)) continue; // a module the next block loads
      const result = await runNode([block.file!], BoundMs, consumer);
      t.is(result.code, 0, `${block.file}: ${result.stderr}`);
      if (block.code.includes('for await')) t.is(result.stdout, `hello\nclosed with 1000\n`, block.file);
      continue;
    }
    await stop();
    server = await startNode([block.file!], BoundMs, consumer);
    const url = /listening on (wss?:\/\/\S+)/.exec(server.firstLine)?.[1];
    t.truthy(url, `${block.file}: ${server.firstLine}`);
    // The upgradeHandler example admits its session cookie only, and prefixes the user's name.
    const admitted = block.code.includes('upgradeHandler');
    const client = admitted ? await echoes(`${url!}/`, 'ada: hello', { Cookie: 'session=s3cr3t' }) : await echoes(`${url!}/`);
    if (block.code.includes("path === '/health'")) {
      t.is(await (await fetch(`http://127.0.0.1:${port}/health`)).text(), 'ok\n');
      t.is((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status, 404);
    }
    if (block.code.includes("http.on('upgrade'")) t.is(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'plain HTTP here\n');
    if (block.code.includes("process.once('SIGINT'")) {
      const closing = closed(client, BoundMs);
      server.child.kill('SIGINT');
      t.is((await closing).code, 1001, block.file);
      t.is((await server.exited(BoundMs)).code, 0, `${block.file}: ${server.stderr()}`);
      server = undefined;
    } else {
      client.terminate();
    }
  }
  await stop();
  t.pass();
});

test.serial("the README's command line runs as written on the machine's Node", async (t) => {
  const [install, ...rest] = blocks.filter((b) => b.lang === 'sh').slice(1);
  t.is(install!.code, 'npm install wsthreads\n', 'the install command this test stands in for');
  const commands = rest.find((b) => b.code.includes('npx wsthreads serve'))!;
  const port = await freePort();
  const env = { ...process.env, PATH: `${systemNodeDir()}:/usr/bin:/bin` };
  const background: CliProcess[] = [];
  t.teardown(() => {
    for (const job of background) {
      try { process.kill(-job.child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
  for (const line of commands.code.replaceAll('8080', String(port)).trim().split('\n')) {
    if (line.endsWith(' &')) {
      const job = await startProcess('bash', ['-c', line.slice(0, -2)], BoundMs, { cwd: consumer, env, detached: true });
      background.push(job);
      t.regex(job.firstLine, /^wsthreads listening on ws:\/\/127\.0\.0\.1:\d+ \(\d+ workers\)$/);
      continue;
    }
    const result = await runProcess('bash', ['-c', line], BoundMs, { cwd: consumer, env });
    t.is(result.code, 0, `${line}: ${result.stderr}`);
    if (line.includes('wsthreads client')) t.is(result.stdout, 'hello\n', line);
    if (line.includes('wsthreads bench')) t.regex(result.stdout, /msgs\/s/);
  }
  for (const job of background) {
    process.kill(-job.child.pid!, 'SIGTERM');
    // The shell in front of the command dies of the signal; serve itself exits 0 (its own tests).
    const { code, signal } = await job.exited(BoundMs);
    t.true(code === 0 || signal === 'SIGTERM', `${code} ${signal}`);
  }
});

test.serial('npm start in the repository serves, as the first command says', async (t) => {
  const [first] = blocks;
  t.true(first!.code.startsWith('npm ci && npm start '));
  t.true(first!.code.includes('\nnpm ci && npm test '));
  const serve = await startProcess('npm', ['start', '--', '--port', '0'], BoundMs, { cwd: REPO, detached: true });
  t.teardown(() => {
    try { process.kill(-serve.child.pid!, 'SIGKILL'); } catch { /* gone */ }
  });
  await outputMatches(serve, /wsthreads listening on ws:\/\/127\.0\.0\.1:\d+ \(\d+ workers\)/, BoundMs);
  process.kill(-serve.child.pid!, 'SIGTERM');
  await serve.exited(BoundMs);
});
