/**
 * A GC of every worker thread of this process, through the inspector: for a server whose pool
 * threads have no handler to ask (mirror mode), so that its memory figures count what its
 * connections hold there, not the garbage still to be collected. The session attaches to the
 * workers for the call and detaches after it. The workers need --expose-gc (the benchmarks fork
 * their servers with it, and worker threads inherit it).
 */
import { Session } from 'node:inspector/promises';
import { collectGarbage } from './gc-echo-handler.js';

/** `reduce`: the memory-reducing kind (see collectGarbage). Resolves once every worker answered. */
export async function collectWorkerGarbage(reduce: boolean): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    const workers: string[] = [];
    const answers = new Map<number, () => void>();
    session.on('NodeWorker.attachedToWorker', ({ params }) => workers.push(params.sessionId));
    session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => answers.get((JSON.parse(params.message) as { id: number }).id)?.());
    // The workers running now are attached (and reported) before this resolves.
    await session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    const expression = `(${collectGarbage.toString()})(${String(reduce)})`;
    await Promise.all(workers.map(async (sessionId, id) => {
      const answered = new Promise<void>((resolve) => answers.set(id, resolve));
      await session.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression } }) });
      await answered;
    }));
    await session.post('NodeWorker.disable');
  } finally {
    session.disconnect();
  }
}
