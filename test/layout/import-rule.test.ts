/**
 * The folders under src/ say which thread runs a file: `main` only the owner thread, `workers`
 * only pool threads, `shared` either. This reads every source file's imports (static, dynamic and
 * re-exports) and holds the rule, so that a path keeps telling the truth.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const srcRoot = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file names: `import … from`, `export … from`, `import(…)`. */
export function importSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const match of source.matchAll(pattern)) specifiers.push(match[1] ?? match[2] ?? match[3]!);
  return specifiers;
}

interface Edge { from: string; to: string }

/** Imports between files under src/, as paths relative to src/ with forward slashes. */
function edges(): { edges: Edge[]; builtins: Edge[] } {
  const found: Edge[] = [];
  const builtins: Edge[] = [];
  for (const file of sourceFiles(srcRoot)) {
    const from = relative(srcRoot, file).split(sep).join('/');
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) {
        found.push({ from, to: relative(srcRoot, resolve(dirname(file), specifier)).split(sep).join('/') });
      } else {
        builtins.push({ from, to: specifier });
      }
    }
  }
  return { edges: found, builtins };
}

const folderOf = (path: string): string => path.split('/')[0]!;
const graph = edges();

test('the scan sees the imports it checks', (t) => {
  // A broken pattern would find nothing and let every rule below pass.
  t.true(graph.edges.length > 100);
  t.true(graph.edges.some((edge) => edge.from === 'main/websocket-server.ts' && edge.to.startsWith('shared/')));
  t.true(graph.builtins.some((edge) => edge.from === 'workers/thread-link-task.ts' && edge.to === 'node:worker_threads'));
  t.deepEqual(importSpecifiers("import a from './a.ts';\nexport { b } from \"../b.ts\";\nconst c = await import('./c.ts');\nimport './d.ts';"), ['./a.ts', '../b.ts', './c.ts', './d.ts']);
});

test('src/main and src/workers never import each other', (t) => {
  const crossing = graph.edges.filter((edge) =>
    (folderOf(edge.from) === 'main' && folderOf(edge.to) === 'workers') ||
    (folderOf(edge.from) === 'workers' && folderOf(edge.to) === 'main'));
  t.deepEqual(crossing, []);
});

test('src/shared imports only src/shared', (t) => {
  const upward = graph.edges.filter((edge) => folderOf(edge.from) === 'shared' && folderOf(edge.to) !== 'shared');
  t.deepEqual(upward, []);
});

test('the engine is sans-I/O: it imports only itself and no sockets, TLS or threads', (t) => {
  const inEngine = (path: string): boolean => path.startsWith('shared/engine/');
  const outward = graph.edges.filter((edge) => inEngine(edge.from) && !inEngine(edge.to));
  t.deepEqual(outward, []);
  const io = graph.builtins.filter((edge) => inEngine(edge.from) && /^node:(net|tls|worker_threads|dgram|http|https)$/.test(edge.to));
  t.deepEqual(io, []);
});
