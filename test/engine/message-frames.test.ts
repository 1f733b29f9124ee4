/** Messages framed once for many (publish): what a client engine reads back, and the check on foreign frames. */
import test from 'ava';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { isServerMessage, serverMessageSize, writeServerMessage } from '../../src/shared/engine/message-frames.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { PublishFrameBuilder } from '../../src/shared/pubsub/publish-frames.ts';
import { zeroCounters } from '../../src/shared/pubsub/pubsub-stats.ts';
import { output, recorder } from '../helpers/frames.ts';

function readByClient(bytes: Uint8Array): unknown[] {
  const handler = recorder({ frames: false });
  new ProtocolEngine({ role: Role.Client }, handler).receive(bytes);
  return handler.events;
}

test('any message written as server frames reads back whole in a client engine, and passes the check (property)', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 700 }), fc.boolean(), (payload, frameSize, binary) => {
    const opcode = binary ? OpCode.Binary : OpCode.Text;
    const bytes = binary ? payload : Buffer.from(Buffer.from(payload).toString('latin1'), 'utf8');
    const target = new Uint8Array(serverMessageSize(bytes.length, frameSize) + 3);
    const end = writeServerMessage(target, 3, opcode, bytes, frameSize);
    const written = target.subarray(3, end);
    t.is(end - 3, serverMessageSize(bytes.length, frameSize));
    t.true(isServerMessage(written));
    t.deepEqual(readByClient(written), [binary ? ['binary', Buffer.from(bytes).toString('hex')] : ['text', Buffer.from(bytes).toString('utf8')]]);
  }), { numRuns: 300 });
});

test('the check refuses what is not one whole unmasked data message', (t) => {
  const whole = new Uint8Array(serverMessageSize(5, 2));
  writeServerMessage(whole, 0, OpCode.Binary, Uint8Array.of(1, 2, 3, 4, 5), 2);
  t.true(isServerMessage(whole));
  t.false(isServerMessage(whole.subarray(0, whole.length - 1)), 'cut short');
  t.false(isServerMessage(Buffer.concat([whole, Uint8Array.of(0x82, 0)])), 'a second message behind it');
  t.false(isServerMessage(Uint8Array.of(0x89, 0)), 'a control frame');
  t.false(isServerMessage(Uint8Array.of(0x80, 0)), 'a continuation first');
  t.false(isServerMessage(Uint8Array.of(0xc1, 0)), 'an RSV bit');
  t.false(isServerMessage(Uint8Array.of(0x81, 0x81, 1, 2, 3, 4, 0)), 'masked');
  t.false(isServerMessage(new Uint8Array(0)), 'nothing');
});

test('the publish builder frames into shared memory, text straight from the string, and counts what it built', (t) => {
  const counters = zeroCounters();
  const builder = new PublishFrameBuilder(counters);
  const text = builder.build('héllo', 1000);
  const binary = builder.build(Uint8Array.of(9, 8, 7), 1000);
  const large = builder.build(new Uint8Array(100_000).fill(3), 16_384);
  for (const frames of [text, binary, large]) t.true(frames.buffer instanceof SharedArrayBuffer);
  t.deepEqual(readByClient(text), [['text', 'héllo']]);
  t.deepEqual(readByClient(binary), [['binary', '090807']]);
  t.deepEqual(readByClient(large), [['binary', Buffer.alloc(100_000, 3).toString('hex')]]);
  t.is(counters.framesBuilt, 3);
  t.is(counters.frameBytes, text.length + binary.length + large.length);
});

test('built frames are queued where they are: one turn of publishes is one chunk, the same view of the same memory, for every subscriber', (t) => {
  const builder = new PublishFrameBuilder(zeroCounters());
  const first = builder.build('one', 1000);
  const second = builder.build(Uint8Array.of(2, 2), 1000);
  const subscribers = [0, 1].map(() => new ProtocolEngine({ role: Role.Server }, recorder({ frames: false })));
  for (const engine of subscribers) {
    engine.sendBuiltFrames(first);
    engine.sendBuiltFrames(second);
  }
  const [a, b] = subscribers.map((engine) => engine.takeOutput());
  t.is(a![0], b![0], 'one view of the run for both subscribers');
  for (const chunks of [a!, b!]) {
    t.is(chunks.length, 1);
    t.is(chunks[0]!.buffer, first.buffer, 'the publish memory itself, not a copy');
    t.is(chunks[0]!.byteOffset, first.byteOffset);
    t.is(chunks[0]!.length, first.length + second.length);
    t.deepEqual(readByClient(chunks[0]!), [['text', 'one'], ['binary', '0202']]);
  }
  // Frames that are not side by side (a third skipped) are separate chunks, still in order.
  const third = builder.build('three', 1000);
  const fourth = builder.build('four', 1000);
  const engine = subscribers[0]!;
  engine.sendBuiltFrames(first);
  engine.sendBuiltFrames(fourth);
  engine.sendBuiltFrames(third);
  const chunks = engine.takeOutput();
  t.is(chunks.length, 3);
  t.deepEqual(readByClient(Buffer.concat(chunks)), [['text', 'one'], ['text', 'four'], ['text', 'three']]);
});

test('an engine queues built frames as they are, in order with its other output, and only while open', (t) => {
  const engine = new ProtocolEngine({ role: Role.Server }, recorder({ frames: false }));
  const frames = new PublishFrameBuilder(zeroCounters()).build('shared', 1000);
  t.is(engine.sendBuiltFrames(frames), frames.length);
  engine.sendText('own');
  t.is(engine.sendBuiltFrames(frames), frames.length);
  const client = readByClient(output(engine));
  t.deepEqual(client, [['text', 'shared'], ['text', 'own'], ['text', 'shared']]);
  engine.close(1000, '');
  t.is(engine.sendBuiltFrames(frames), 0);
});
