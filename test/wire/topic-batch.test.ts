/** The topic entries of the thread link as a round trip through a real port (see signal-batch.test.ts). */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import { constants, inflateRawSync } from 'node:zlib';
import test from 'ava';
import fc from 'fast-check';
import type { CompressedFrames } from '../../src/shared/engine/extension.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { resolveDeflateSettings } from '../../src/shared/engine/permessage-deflate.ts';
import { decodeFrames } from '../helpers/frames.ts';
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
  const deflate = resolveDeflateSettings({ mode: 'dedicated', windowBits: 13, threshold: 16 });
  // Text made of a few words repeats itself: most messages compress, a few are below the threshold.
  const words = fc.constantFrom('pub', 'sub', 'topic', ' ', '{"a":1}');
  await fc.assert(fc.asyncProperty(
    fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.nat(), fc.oneof(fc.array(words, { maxLength: 60 }).map((parts) => parts.join('')), fc.uint8Array({ maxLength: 200 }))), { maxLength: 20 }),
    async (messages) => {
      const builder = new PublishFrameBuilder(zeroCounters());
      const list: unknown[] = [];
      const written = messages.map(([topic, origin, message]) => {
        const built = builder.build(message, 1000);
        const compressed = builder.buildCompressed(message, 1000, deflate);
        writePublished(list, topic, origin, built, compressed);
        return { built, compressed };
      });
      const read: Array<[string, number, Uint8Array, CompressedFrames | undefined]> = [];
      readPublished(await throughPort(list), { published: (topic, origin, bytes, compressed) => { read.push([topic, origin, bytes, compressed]); } });
      const view = (compressed: CompressedFrames | undefined): unknown => compressed === undefined ? undefined : [Array.from(compressed.frames), compressed.windowBits];
      t.deepEqual(
        read.map(([topic, origin, bytes, compressed]) => [topic, origin, Array.from(bytes), view(compressed)]),
        messages.map(([topic, origin], i) => [topic, origin, Array.from(written[i]!.built), view(written[i]!.compressed)]),
      );
      // Shared, not copied: a byte changed here is changed there.
      if (read.length > 0) {
        written[0]!.built[0] ^= 0xff;
        t.is(read[0]![2][0], written[0]!.built[0]);
      }
    },
  ), { numRuns: 100 });
});

test('a compressed publish is one RSV1 message whose payload inflates (RFC 7692 7.2.2) to the message, within its window', (t) => {
  const deflate = resolveDeflateSettings({ mode: 'dedicated', windowBits: 10, threshold: 64 });
  const builder = new PublishFrameBuilder(zeroCounters());
  const message = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i % 7, name: 'subscriber' })));
  const compressed = builder.buildCompressed(message, 100, deflate)!;
  t.is(compressed.windowBits, 10);
  const frames = decodeFrames(compressed.frames);
  t.true(frames.length > 1, 'cut at the frame size');
  t.is(frames[0]!.rsv, 0x40);
  t.is(frames[0]!.opcode, OpCode.Text);
  for (const frame of frames.slice(1)) t.is(frame.rsv, 0, 'RSV1 on the first frame only');
  const payload = Buffer.concat([...frames.map((frame) => frame.payload), Buffer.from([0x00, 0x00, 0xff, 0xff])]);
  // An inflater with the announced window reads it: nothing reaches back further than 2^10 bytes.
  t.is(inflateRawSync(payload, { windowBits: 10, finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8'), message);
  t.true(compressed.frames.length < message.length / 4);
  // Below the threshold, or without deflate, there is no compressed copy.
  t.is(builder.buildCompressed('short', 1000, deflate), undefined);
  t.is(builder.buildCompressed(message, 1000, null), undefined);
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
