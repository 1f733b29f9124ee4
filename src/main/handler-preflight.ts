/**
 * The handler module, loaded once on the owner thread before `listen()` binds: a module that
 * cannot be resolved, fails to import, or exports no function would otherwise only fail inside
 * the pool threads, one connection at a time (each ending with 1006), while `listen()` had
 * reported success. Importing it here runs its top level on the owner thread too, once; with
 * `workers: 0` this is the copy that serves the connections (`loadHandler` caches per thread).
 */
import { loadHandler } from '../shared/connection/handler-host.ts';

/** Why the handler module cannot serve, in one line; undefined when it loads. */
export async function handlerLoadFailure(url: string): Promise<string | undefined> {
  try {
    await loadHandler(url);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.split('\n')[0];
  }
}
