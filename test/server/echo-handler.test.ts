/**
 * The built-in echo handler (`wsthreads serve --echo`, the embedded server of `wsthreads bench`)
 * sends each binary message back from the received bytes themselves (`copy: false`): several
 * large messages in flight at once, on the owner thread and in a pool thread, come back byte for
 * byte and in order, with `ws` as the client.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { ECHO_HANDLER_URL } from '../../src/loadgen/embedded-echo-server.ts';
import { bothTransports, connect, startServer, within } from './support.ts';

bothTransports('the echo handler sends eight 1 MiB binary messages and four 300 kB texts in flight back unchanged, in order', async (t, workers) => {
  const server = await startServer(t, workers, { handler: ECHO_HANDLER_URL });
  const client = await connect(t, server.serverUrl(), undefined, { maxPayload: 8 * 1024 * 1024 });
  const messages = Array.from({ length: 8 }, () => randomBytes(1024 * 1024));
  const texts = Array.from({ length: 4 }, (_, i) => `${i}: ${'aé€😀'.repeat(30_000)}`);
  const received: Array<[Buffer, boolean]> = [];
  const all = within(new Promise<void>((resolve) => {
    client.on('message', (data: Buffer, isBinary: boolean) => {
      received.push([data, isBinary]);
      if (received.length === messages.length + texts.length) resolve();
    });
  }), 30_000, 'every echo');
  for (let i = 0; i < messages.length; i++) {
    client.send(messages[i]!);
    if (i % 2 === 1) client.send(texts[(i - 1) / 2]!);
  }
  await all;
  const expected: Array<[Buffer, boolean]> = [];
  for (let i = 0; i < messages.length; i++) {
    expected.push([messages[i]!, true]);
    if (i % 2 === 1) expected.push([Buffer.from(texts[(i - 1) / 2]!), false]);
  }
  t.is(received.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    t.is(received[i]![1], expected[i]![1], `message ${i}: kind`);
    t.true(received[i]![0].equals(expected[i]![0]), `message ${i}: bytes`);
  }
});
