/**
 * The Piscina task run by each generator thread: one task per thread for the whole run. The task
 * says 'ready' on its MessagePort, waits for 'start' (sent once every thread is ready), posts a
 * bin as each second ends and returns its result as the task's value. The runner stops a run
 * early with a 'stop' message, never with an AbortSignal (aborting a running Piscina task
 * terminates its thread, and the report with it).
 */
import type { MessagePort } from 'node:worker_threads';
import { Generator } from './generator.ts';
import type { GeneratorCommand, GeneratorEvent, GeneratorResult, GeneratorShard } from './generator-protocol.ts';

export interface GeneratorTask {
  shard: GeneratorShard;
  port: MessagePort;
}

/** Named, not default, for the reason the server's thread entry gives (no require facade). */
export async function runGeneratorTask({ shard, port }: GeneratorTask): Promise<GeneratorResult> {
  const post = (event: GeneratorEvent): void => port.postMessage(event);
  const generator = new Generator(shard, (bin) => post({ type: 'bin', bin }));
  const started = new Promise<number>((resolve) => {
    port.on('message', (command: GeneratorCommand) => {
      if (command.type === 'start') resolve(command.runStartEpochMs);
      else if (command.type === 'stop') generator.stop();
    });
  });
  post({ type: 'ready', thread: shard.thread });
  try {
    return await generator.run(await started);
  } finally {
    port.close();
  }
}
