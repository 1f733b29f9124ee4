import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';

/** `value` as the other end of a real MessagePort receives it, with `transfer` moved (as a thread link sends it). */
export async function postThrough(value: unknown, transfer: ArrayBuffer[] = []): Promise<unknown> {
  const { port1, port2 } = new MessageChannel();
  const received = once(port2, 'message');
  port1.postMessage(value, transfer);
  const [data] = await received;
  port1.close();
  return data;
}
