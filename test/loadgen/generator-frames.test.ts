/**
 * The generator's own frame paths, checked against the engine on real bytes: what
 * MaskedFrameOutput writes, a server-role engine reads as the same messages; what a server-role
 * engine writes, DataFrameReader hands back whole however the stream is cut into reads, and it
 * gives the engine every byte from the first frame it does not take.
 */
import test from 'ava';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { DefaultMaskGenerator } from '../../src/shared/engine/mask-generator.ts';
import { Role } from '../../src/shared/engine/state.ts';
import type { EngineHandler } from '../../src/shared/engine/engine-types.ts';
import { DataFrameReader } from '../../src/loadgen/data-frame-reader.ts';
import { MaskedFrameOutput } from '../../src/loadgen/masked-frame-output.ts';
import { createPayloadCodec, payloadBytes } from '../../src/loadgen/payload.ts';

interface Message {
  text: boolean;
  bytes: Buffer;
}

function recordingEngine(role: Role, into: Message[]): ProtocolEngine {
  const handler: EngineHandler = {
    textMessage: (text) => into.push({ text: true, bytes: Buffer.from(text) }),
    binaryMessage: (data) => into.push({ text: false, bytes: Buffer.from(data) }),
    pong: () => {},
    error: (error) => {
      throw error;
    },
    closed: () => {},
  };
  return new ProtocolEngine({ role }, handler);
}

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

test('masked frames of every length class decode, on a server engine, to the payloads the codec wrote', (t) => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(0, 1, 35, 64, 125, 126, 1000, 65535, 65536, 70000), { minLength: 1, maxLength: 12 }), fc.boolean(), (sizes, binary) => {
      const output = new MaskedFrameOutput(256);
      const masks = new DefaultMaskGenerator();
      const expected: Buffer[] = [];
      const chunks: Uint8Array[] = [];
      sizes.forEach((size, seq) => {
        const codec = createPayloadCodec({ binary, size });
        output.writeMessage(codec, 3, seq, 1000 + seq, masks);
        expected.push(payloadBytes(codec, 3, seq, 1000 + seq));
        // Take now and then, and recycle, as flush() does after a write went through.
        if (seq % 3 === 2) {
          output.take(chunks);
          output.recycle();
          chunks.push(Buffer.from(concat(chunks.splice(0))));
        }
      });
      output.take(chunks);
      const received: Message[] = [];
      recordingEngine(Role.Server, received).receive(concat(chunks));
      t.is(received.length, sizes.length);
      received.forEach((message, i) => {
        t.is(message.text, !binary);
        t.true(message.bytes.equals(expected[i]!), `message ${i} of ${sizes[i]} bytes`);
      });
    }),
    { numRuns: 40 },
  );
});

test('the reader hands back every whole data frame, however the stream is cut into reads', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ text: fc.boolean(), size: fc.constantFrom(0, 5, 125, 126, 300, 65536) }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 20 }),
      (messages, cuts) => {
        const server = recordingEngine(Role.Server, []);
        for (const { text, size } of messages) {
          if (text) server.sendText('x'.repeat(size));
          else server.sendBinary(Buffer.alloc(size, size & 0xff));
        }
        const stream = concat(server.takeOutput());
        const received: Message[] = [];
        const reader = new DataFrameReader();
        const sink = { dataFrame: (source: Buffer, start: number, end: number, text: boolean) => received.push({ text, bytes: Buffer.from(source.subarray(start, end)) }) };
        // One reused read buffer, as the generator's: the reader must copy what it keeps.
        const readBuffer = Buffer.alloc(70_000);
        let untaken = 0;
        // Reads of the sizes drawn, then of the whole buffer, until the stream is read.
        for (let at = 0, read = 0; at < stream.length; read++) {
          const end = Math.min(stream.length, at + (cuts[read] ?? readBuffer.length), at + readBuffer.length);
          stream.copy(readBuffer, 0, at, end);
          if (reader.feed(readBuffer, end - at, sink) !== undefined) untaken++;
          readBuffer.fill(0xee);
          at = end;
        }
        t.is(untaken, 0);
        t.deepEqual(
          received.map((m) => [m.text, m.bytes.length, m.bytes[0]]),
          messages.map((m) => [m.text, m.size, m.size === 0 ? undefined : m.text ? 0x78 : m.size & 0xff]),
        );
      },
    ),
    { numRuns: 60 },
  );
});

test('from the first frame the reader does not take (a Ping, even one cut across reads), the engine gets every byte', (t) => {
  const server = recordingEngine(Role.Server, []);
  server.sendText('one');
  server.ping(Buffer.from('are you there'));
  server.sendText('two');
  const stream = concat(server.takeOutput());
  for (let cut = 1; cut < stream.length; cut++) {
    const received: string[] = [];
    const reader = new DataFrameReader();
    const sink = { dataFrame: (source: Buffer, start: number, end: number) => received.push(source.toString('utf8', start, end)) };
    const first = Buffer.from(stream.subarray(0, cut));
    let rest = reader.feed(first, first.length, sink);
    const second = Buffer.from(stream.subarray(cut));
    const tail = rest === undefined ? reader.feed(second, second.length, sink) : Buffer.concat([rest, second]);
    rest = tail;
    t.deepEqual(received, ['one'], `cut at ${cut}`);
    const pings: string[] = [];
    const client = new ProtocolEngine({ role: Role.Client }, {
      textMessage: (text) => received.push(text),
      binaryMessage: () => {},
      pingReceived: (payload) => pings.push(Buffer.from(payload).toString()),
      pong: () => {},
      error: (error) => {
        throw error;
      },
      closed: () => {},
    });
    client.receive(rest!);
    t.deepEqual(pings, ['are you there']);
    t.deepEqual(received, ['one', 'two']);
  }
});
