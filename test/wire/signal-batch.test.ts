/**
 * The worker → owner format as a round trip without threads: calls written by `SignalWriter`,
 * posted through a real MessageChannel with the writer's transfer list (as the thread link does),
 * read back by `readSignalCalls` into a recording sink.
 */
import test from 'ava';
import fc from 'fast-check';
import { postThrough } from '../helpers/post-through.ts';
import { SocketError, WebSocketError } from '../../src/shared/engine/errors.ts';
import type { ConnectionInfo, SocketSink } from '../../src/shared/connection/socket-backend.ts';
import {
  countSignalCalls,
  readSignalCalls,
  readThreadSignals,
  SignalEffect,
  signalEffects,
  SignalWriter,
  SinkCall,
  writeConnectionSignals,
  type ThreadSignalBatch,
} from '../../src/shared/wire/signal-batch.ts';

type Recorded = [name: keyof SocketSink, ...args: unknown[]];

/** A sink that records every call as plain data (payloads as byte arrays, errors as JSON). */
function recordingSink(into: Recorded[]): SocketSink {
  const bytes = (data: Uint8Array): number[] => Array.from(data);
  return {
    connected: (info) => into.push(['connected', info]),
    textMessage: (text) => into.push(['textMessage', text]),
    binaryMessage: (data) => into.push(['binaryMessage', bytes(data)]),
    textFrame: (text, isLast) => into.push(['textFrame', text, isLast]),
    binaryFrame: (data, isLast) => into.push(['binaryFrame', bytes(data), isLast]),
    pong: (elapsedMs, payload) => into.push(['pong', elapsedMs, bytes(payload)]),
    bytesWritten: (count) => into.push(['bytesWritten', count]),
    error: (error) => into.push(['error', error.toJSON()]),
    readChannelFinished: () => into.push(['readChannelFinished']),
    closing: () => into.push(['closing']),
    disconnected: (code, reason) => into.push(['disconnected', code, reason]),
  };
}

const info: ConnectionInfo = {
  origin: 'https://example.org', requestUrl: 'ws://127.0.0.1/x', resourceName: '/x', requestHeaders: [['Host', '127.0.0.1']],
  subprotocol: '', extensions: [], peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2,
};

/** A payload that is sometimes a view into a larger buffer and sometimes large enough to be moved. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 40 }), fc.nat(7)).map(([bytes, offset]) => bytes.subarray(offset)),
  fc.integer({ min: 64 * 1024, max: 70 * 1024 }).map((size) => new Uint8Array(size).fill(size & 0xff)),
);

/** One call of a live connection (anything but the final Disconnected). */
const liveCall: fc.Arbitrary<(sink: SocketSink) => void> = fc.oneof(
  fc.constant((sink: SocketSink) => sink.connected(info)),
  fc.string().map((text) => (sink: SocketSink) => sink.textMessage(text)),
  payload.map((data) => (sink: SocketSink) => sink.binaryMessage(data)),
  fc.tuple(fc.string(), fc.boolean()).map(([text, last]) => (sink: SocketSink) => sink.textFrame(text, last)),
  fc.tuple(payload, fc.boolean()).map(([data, last]) => (sink: SocketSink) => sink.binaryFrame(data, last)),
  fc.tuple(fc.nat(), payload).map(([ms, data]) => (sink: SocketSink) => sink.pong(ms, data)),
  // Small counts on purpose: 9 is the value of SinkCall.Disconnected.
  fc.nat(20).map((count) => (sink: SocketSink) => sink.bytesWritten(count)),
  fc.string().map((message) => (sink: SocketSink) => sink.error(new WebSocketError(SocketError.ProtocolViolation, message, 1002))),
  fc.constant((sink: SocketSink) => sink.readChannelFinished()),
  fc.constant((sink: SocketSink) => sink.closing()),
);

const ending = fc.option(fc.tuple(fc.integer({ min: 1000, max: 4999 }), fc.string()), { nil: undefined });


test('any batch reads back as written, through a real port with its transfer list (property)', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(liveCall, { maxLength: 30 }), ending, async (calls, end) => {
    const expected: Recorded[] = [];
    const direct = recordingSink(expected);
    const writer = new SignalWriter(false);
    for (const call of calls) { call(direct); call(writer); }
    if (end !== undefined) { direct.disconnected(...end); writer.disconnected(...end); }
    const taken = writer.take();
    const received = await postThrough(taken.calls, taken.transfer) as unknown[];
    const read: Recorded[] = [];
    readSignalCalls(received, recordingSink(read));
    t.deepEqual(read, expected);
    t.is(countSignalCalls(received), expected.length);
    t.is(taken.last, end !== undefined);
    // Only a trailing Disconnected ends a connection, whatever values the calls carry.
    t.is((signalEffects(received) & SignalEffect.Ended) !== 0, end !== undefined);
  }), { numRuns: 200 });
});

test('bytesWritten(9) followed by a message is no end of the connection', (t) => {
  const writer = new SignalWriter(false);
  writer.bytesWritten(9);
  writer.textMessage('abcdefg');
  writer.textMessage('abcdefg');
  const { calls } = writer.take();
  // The shape a reader that sniffed `calls[length - 3] === Disconnected` misread.
  t.deepEqual(calls, [SinkCall.BytesWritten, 9, SinkCall.Text, 'abcdefg', SinkCall.Text, 'abcdefg']);
  t.is(signalEffects(calls), 0);
});

test('closing and disconnected are effects; calls after Disconnected or cut short are malformed', (t) => {
  t.is(signalEffects([SinkCall.Closing, SinkCall.Text, 'x']), SignalEffect.Closing);
  t.is(signalEffects([SinkCall.Disconnected, 1000, '']), SignalEffect.Closing | SignalEffect.Ended);
  t.throws(() => signalEffects([SinkCall.Disconnected, 1000, '', SinkCall.Text, 'late']), { message: /after Disconnected/ });
  t.throws(() => signalEffects([SinkCall.TextFrame, 'no flag']), { message: /Malformed/ });
  t.throws(() => signalEffects([42]), { message: /Malformed/ });
});

test('a lifecycle-only writer keeps the lifecycle and drops the traffic', (t) => {
  const writer = new SignalWriter(true);
  writer.connected(info);
  writer.textMessage('dropped');
  writer.binaryMessage(new Uint8Array([1]));
  writer.pong(1, new Uint8Array());
  writer.bytesWritten(5);
  writer.closing();
  writer.disconnected(1000, 'bye');
  const read: Recorded[] = [];
  readSignalCalls(writer.take().calls, recordingSink(read));
  t.deepEqual(read.map(([name]) => name), ['connected', 'closing', 'disconnected']);
});

test('the written hook runs once per turn, and take() starts a new turn', (t) => {
  let turns = 0;
  class CountingWriter extends SignalWriter {
    protected override written(): void { turns++; }
  }
  const writer = new CountingWriter(false);
  writer.textMessage('a');
  writer.textMessage('b');
  t.is(turns, 1);
  writer.take();
  writer.bytesWritten(3);
  t.is(turns, 2);
});

test('a thread batch carries each connection with its status, in order', (t) => {
  const entries: unknown[] = [];
  writeConnectionSignals(entries, 7, { appliedSeq: 3, bytesToWrite: 100 }, [SinkCall.Text, 'a']);
  writeConnectionSignals(entries, 9, { appliedSeq: 0, bytesToWrite: 0 }, [SinkCall.Closing]);
  const seen: unknown[][] = [];
  readThreadSignals(structuredClone({ entries }) as ThreadSignalBatch, {
    connectionSignals: (id, appliedSeq, bytesToWrite, calls) => seen.push([id, appliedSeq, bytesToWrite, calls]),
  });
  t.deepEqual(seen, [[7, 3, 100, [SinkCall.Text, 'a']], [9, 0, 0, [SinkCall.Closing]]]);
});
