/**
 * `node:tls`, loaded the first time a connection needs it. A plain `ws://` server's pool threads
 * never use it, and a static import loaded it into every one of them: a worker that loads the
 * pool thread's entry took 16.7 MiB with it and 15.5 without (Node 26).
 */
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';

let loaded: typeof Tls | undefined;

export function nodeTls(): typeof Tls {
  // process.getBuiltinModule is Node 20.16 and later; require() from here serves the rest.
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return (loaded ??= (getBuiltin?.('node:tls') ?? createRequire(import.meta.url)('node:tls')) as typeof Tls);
}
