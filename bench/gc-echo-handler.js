/**
 * The echo handler for the bench's memory figures: echoes like src/handlers/echo.ts, but the
 * text `__gc__` runs a full GC of its worker thread instead (the bench forks servers with
 * --expose-gc, which worker threads inherit), so that RSS shows what connections hold rather
 * than garbage that is still to be collected; `__gc-reduce__` runs a memory-reducing one and
 * answers with the same text once it is done.
 *
 * JavaScript, not TypeScript: it runs in the pool threads of the built package, as a user's
 * handler would, and a TypeScript module there would load Node's type stripper into every
 * thread (about 15 MiB each). Its types are in gc-echo-handler.d.ts.
 */

export const GcRequest = '__gc__';
export const GcReduceRequest = '__gc-reduce__';

/**
 * A full GC of this thread. `reduce`: V8's memory-reducing kind, which also shrinks the young
 * generation back to its smallest. V8 grows the young generation while objects survive (as when
 * thousands of connections open), up to a cap, and an ordinary GC keeps what it grew: empty
 * pages that RSS counts, however few connections remain.
 */
export function collectGarbage(reduce) {
  const gc = globalThis.gc;
  if (reduce) gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  else gc?.();
}

export default function gcEcho(socket) {
  socket.on('textMessageReceived', (text) => {
    if (text === GcRequest) {
      collectGarbage(false);
    } else if (text === GcReduceRequest) {
      collectGarbage(true);
      socket.sendTextMessage(text);
    } else {
      socket.sendTextMessage(text);
    }
  });
  socket.on('binaryMessageReceived', (data) => socket.sendBinaryMessage(data));
}
