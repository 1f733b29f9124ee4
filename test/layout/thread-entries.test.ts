/**
 * Piscina loads a thread's entry with `require()`. Node wraps a required ES module that has a
 * default export in a facade (to add `__esModule`), and making that facade once aborted a whole
 * test run in a pool thread that was starting as servers closed. So the entries export their
 * task by name and the pools name it: this requires each entry as Piscina does and checks that
 * what comes back is the module itself, with the named task and no default export.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

for (const [file, name] of [['src/workers/thread-link-task.ts', 'linkThread'], ['src/loadgen/generator-worker.ts', 'runGeneratorTask']] as const) {
  test(`${file} is required without a facade: no default export, its task named ${name}`, (t) => {
    const loaded = require(fileURLToPath(new URL(`../../${file}`, import.meta.url))) as Record<string, unknown>;
    t.false('default' in loaded, 'no default export');
    t.false('__esModule' in loaded, 'no facade');
    t.is(typeof loaded[name], 'function');
  });
}
