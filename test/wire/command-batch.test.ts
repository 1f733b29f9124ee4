/** The owner → worker format as a round trip without threads (see signal-batch.test.ts). */
import test from 'ava';
import fc from 'fast-check';
import { postThrough } from '../helpers/post-through.ts';
import {
  CommandCall,
  CommandWriter,
  readCommandCalls,
  readStatuses,
  readThreadCommands,
  writeConnectionCommands,
  writeStatus,
  type CommandTarget,
  type ThreadCommandBatch,
} from '../../src/shared/wire/command-batch.ts';
import type { SocketLimitName } from '../../src/shared/connection/socket-backend.ts';

type Recorded = [name: keyof CommandTarget, ...args: unknown[]];

function recordingTarget(into: Recorded[]): CommandTarget {
  return {
    sendText: (text, compress) => into.push(['sendText', text, compress]),
    sendBinary: (data, compress) => into.push(['sendBinary', Array.from(data), compress]),
    ping: (payload) => { into.push(['ping', Array.from(payload)]); },
    close: (code, reason) => { into.push(['close', code, reason]); },
    abort: () => { into.push(['abort']); },
    pause: () => { into.push(['pause']); },
    resume: () => { into.push(['resume']); },
    setLimit: (name, value) => { into.push(['setLimit', name, value]); },
    setFrameSignals: (enabled) => { into.push(['setFrameSignals', enabled]); },
    setLivenessTimeout: (name, ms) => { into.push(['setLivenessTimeout', name, ms]); },
    taken: () => { into.push(['taken']); },
    setOptionalSignals: (signals) => { into.push(['setOptionalSignals', signals]); },
    subscribe: (topic) => { into.push(['subscribe', topic]); },
    unsubscribe: (topic) => { into.push(['unsubscribe', topic]); },
  };
}

const limitName = fc.constantFrom<SocketLimitName>('maxAllowedIncomingFrameSize', 'maxAllowedIncomingMessageSize', 'outgoingFrameSize');
type Apply = (target: CommandTarget | CommandWriter) => void;
const command: fc.Arbitrary<Apply> = fc.oneof<fc.Arbitrary<Apply>[]>(
  fc.tuple(fc.string(), fc.boolean()).map(([text, compress]) => (target) => { target.sendText(text, compress); }),
  fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.boolean()).map(([data, compress]) => (target) => { target.sendBinary(data.slice(), compress); }),
  fc.uint8Array({ maxLength: 125 }).map((data) => (target) => target.ping(data.slice())),
  fc.tuple(fc.integer({ min: 1000, max: 4999 }), fc.string()).map(([code, reason]) => (target) => target.close(code, reason)),
  fc.constant((target: CommandTarget | CommandWriter) => target.abort()),
  fc.constant((target: CommandTarget | CommandWriter) => target.pause()),
  fc.constant((target: CommandTarget | CommandWriter) => target.resume()),
  fc.tuple(limitName, fc.nat()).map(([name, value]) => (target) => target.setLimit(name, value)),
  fc.boolean().map((enabled) => (target) => target.setFrameSignals(enabled)),
  fc.tuple(fc.constantFrom('idleTimeout' as const, 'pongTimeout' as const, 'frameTimeout' as const), fc.nat())
    .map(([name, ms]) => (target) => target.setLivenessTimeout(name, ms)),
  fc.constant((target: CommandTarget | CommandWriter) => target.taken()),
  fc.nat({ max: 3 }).map((signals) => (target) => target.setOptionalSignals(signals)),
  fc.string({ minLength: 1 }).map((topic) => (target) => target.subscribe(topic)),
  fc.string({ minLength: 1 }).map((topic) => (target) => target.unsubscribe(topic)),
);

test('any command batch reads back as written, through a real port with its transfer list (property)', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(command, { maxLength: 30 }), async (commands) => {
    const expected: Recorded[] = [];
    const direct = recordingTarget(expected);
    const writer = new CommandWriter();
    for (const apply of commands) { apply(direct); apply(writer); }
    t.is(writer.isEmpty, commands.length === 0);
    const taken = writer.take();
    t.true(writer.isEmpty);
    const calls = await postThrough(taken.calls, taken.transfer) as unknown[];
    const read: Recorded[] = [];
    readCommandCalls(calls, recordingTarget(read));
    t.deepEqual(read, expected);
  }), { numRuns: 200 });
});

test('a command cut short or unknown is malformed', (t) => {
  t.throws(() => readCommandCalls([CommandCall.Close, 1000], recordingTarget([])), { message: /Malformed/ });
  t.throws(() => readCommandCalls([99], recordingTarget([])), { message: /Malformed/ });
});

test('thread command batches and status lists read back in order', (t) => {
  const entries: unknown[] = [];
  writeConnectionCommands(entries, 4, 1, [CommandCall.SendText, 'x']);
  writeConnectionCommands(entries, 5, 8, [CommandCall.Abort]);
  const seen: unknown[][] = [];
  readThreadCommands(structuredClone({ entries }) as ThreadCommandBatch, { connectionCommands: (id, seq, calls) => seen.push([id, seq, calls]) });
  t.deepEqual(seen, [[4, 1, [CommandCall.SendText, 'x']], [5, 8, [CommandCall.Abort]]]);
  const statuses: number[] = [];
  writeStatus(statuses, 4, { appliedSeq: 1, bytesToWrite: 12 });
  writeStatus(statuses, 5, { appliedSeq: 8, bytesToWrite: 0 });
  const read: number[][] = [];
  readStatuses(structuredClone(statuses), { connectionStatus: (id, seq, bytes) => read.push([id, seq, bytes]) });
  t.deepEqual(read, [[4, 1, 12], [5, 8, 0]]);
});
