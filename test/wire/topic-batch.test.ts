/** The topic entries of the thread link as a round trip through a real port (see signal-batch.test.ts). */
import test from 'ava';
import fc from 'fast-check';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import { PublishFrameBuilder } from '../../src/shared/pubsub/publish-frames.ts';
import { zeroCounters } from '../../src/shared/pubsub/pubsub-stats.ts';
import { readPublished, readSubscriptionDeltas, SubscriptionDeltaWriter, writePublished } from '../../src/shared/wire/topic-batch.ts';

async function throughPort<T>(value: T): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  const received = once(port2, 'message');
  port1.postMessage(value);
  const [data] = await received as [T];
  port1.close();
  return data;
}

test('published entries read back as written, the frames the same memory on the other side (property)', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.nat(), fc.oneof(fc.string(), fc.uint8Array({ maxLength: 200 }))), { maxLength: 20 }),
    async (messages) => {
      const builder = new PublishFrameBuilder(zeroCounters());
      const list: unknown[] = [];
      const frames = messages.map(([topic, origin, message]) => {
        const built = builder.build(message, 1000);
        writePublished(list, topic, origin, built);
        return built;
      });
      const read: Array<[string, number, Uint8Array]> = [];
      readPublished(await throughPort(list), { published: (topic, origin, bytes) => { read.push([topic, origin, bytes]); } });
      t.deepEqual(read.map(([topic, origin, bytes]) => [topic, origin, Array.from(bytes)]), messages.map(([topic, origin], i) => [topic, origin, Array.from(frames[i]!)]));
      // Shared, not copied: a byte changed here is changed there.
      if (read.length > 0) {
        frames[0]![0] ^= 0xff;
        t.is(read[0]![2][0], frames[0]![0]);
      }
    },
  ), { numRuns: 100 });
});

test('subscription changes are summed per topic over a turn; a change undone is not sent', async (t) => {
  const writer = new SubscriptionDeltaWriter();
  t.true(writer.isEmpty);
  writer.change('a', 1);
  writer.change('b', 1);
  writer.change('a', 1);
  writer.change('b', -1);
  writer.change('c', -1);
  const read: Array<[string, number]> = [];
  readSubscriptionDeltas(await throughPort(writer.take()), { subscriptionDelta: (topic, delta) => { read.push([topic, delta]); } });
  t.deepEqual(read, [['a', 2], ['c', -1]]);
  t.true(writer.isEmpty);
});

test('a batch of the wrong length is malformed', (t) => {
  t.throws(() => readPublished(['a', 1], { published: () => {} }), { message: /Malformed/ });
  t.throws(() => readSubscriptionDeltas(['a'], { subscriptionDelta: () => {} }), { message: /Malformed/ });
});
