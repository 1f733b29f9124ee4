/** The opening handshakes on the thread link, both ways, as round trips through a real port. */
import test from 'ava';
import fc from 'fast-check';
import { postThrough } from '../helpers/post-through.ts';
import {
  AnswerWriter,
  HandshakeWriter,
  readAnswerCalls,
  readHandshakeCalls,
  RelayEnding,
  type AnswerReader,
  type HandOverRequest,
  type HandshakeReader,
} from '../../src/shared/wire/handshake-batch.ts';
import type { HandshakeDecision, HandshakeFailure, HandshakeSummary } from '../../src/shared/wire/thread-messages.ts';
import type { HttpRequest } from '../../src/shared/connection/http-response.ts';


const summary = (origin: string): HandshakeSummary => ({
  threadId: 3, origin, resourceName: '/chat?room=1', requestUrl: 'ws://127.0.0.1:9/chat?room=1',
  requestHeaders: `Host: 127.0.0.1:9\r\nOrigin: ${origin}`, subprotocols: ['a', 'b'],
  peerAddress: '127.0.0.1', peerPort: 50_000, localAddress: '127.0.0.1', localPort: 9,
  method: 'GET', secure: true,
  peerCertificate: {
    subject: { CN: 'ada' }, issuer: { CN: 'CA' }, subjectAltName: '', serialNumber: '01', fingerprint256: 'AA',
    validFrom: 'then', validTo: 'later', raw: new Uint8Array([48, 1, 2]), verified: true, verifyError: '',
  },
});
const request: HttpRequest = {
  method: 'GET', resourceName: '/status?full', path: '/status', query: 'full', httpVersion: '1.1',
  headers: { host: '127.0.0.1:9' }, rawHeaders: [['Host', '127.0.0.1:9']], host: '127.0.0.1:9',
  secure: false, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2,
};
const failure: HandshakeFailure = { status: 400, reason: 'bad key', serverErrorCode: 0 };

const handOver: HandOverRequest = { ...request, method: 'POST', received: new Uint8Array([80, 79, 83, 84]) };

type Question =
  | ['decide', number, HandshakeSummary] | ['httpRequest', number, HttpRequest] | ['failed', number, HandshakeFailure] | ['ended', number]
  | ['handOver', number, HandOverRequest] | ['clientData', number, Uint8Array] | ['clientEnded', number] | ['clientFlushed', number, number];

function recordingReader(into: unknown[]): HandshakeReader {
  return {
    decide: (id, value) => into.push(['decide', id, value]),
    httpRequest: (id, value) => into.push(['httpRequest', id, value]),
    failed: (id, value) => into.push(['failed', id, value]),
    ended: (id) => into.push(['ended', id]),
    handOver: (id, value) => into.push(['handOver', id, value]),
    clientData: (id, value) => into.push(['clientData', id, value]),
    clientEnded: (id) => into.push(['clientEnded', id]),
    clientFlushed: (id, bytes) => into.push(['clientFlushed', id, bytes]),
  };
}

test('any run of handshake questions reads back as written (property)', async (t) => {
  const question: fc.Arbitrary<Question> = fc.oneof(
    fc.tuple(fc.nat(), fc.string()).map(([id, origin]): Question => ['decide', id, summary(origin)]),
    fc.nat().map((id): Question => ['httpRequest', id, request]),
    fc.nat().map((id): Question => ['failed', id, failure]),
    fc.nat().map((id): Question => ['ended', id]),
    fc.nat().map((id): Question => ['handOver', id, handOver]),
    fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })).map(([id, bytes]): Question => ['clientData', id, bytes]),
    fc.nat().map((id): Question => ['clientEnded', id]),
    fc.tuple(fc.nat(), fc.nat()).map(([id, bytes]): Question => ['clientFlushed', id, bytes]),
  );
  await fc.assert(fc.asyncProperty(fc.array(question, { maxLength: 20 }), async (questions) => {
    const writer = new HandshakeWriter();
    for (const [kind, id, value] of questions) {
      if (kind === 'decide') writer.decide(id, value as HandshakeSummary);
      else if (kind === 'httpRequest') writer.httpRequest(id, value as HttpRequest);
      else if (kind === 'failed') writer.failed(id, value as HandshakeFailure);
      else if (kind === 'handOver') writer.handOver(id, value as HandOverRequest);
      else if (kind === 'clientData') writer.clientData(id, value as Uint8Array);
      else if (kind === 'clientEnded') writer.clientEnded(id);
      else if (kind === 'clientFlushed') writer.clientFlushed(id, value as number);
      else writer.ended(id);
    }
    t.is(writer.isEmpty, questions.length === 0);
    const read: unknown[] = [];
    readHandshakeCalls(await postThrough(writer.take()) as unknown[], recordingReader(read));
    t.true(writer.isEmpty);
    t.deepEqual(read, questions);
  }), { numRuns: 100 });
});

test('decisions and HTTP responses read back, the response bytes moved rather than copied', async (t) => {
  const writer = new AnswerWriter();
  const accept: HandshakeDecision = {
    accept: true, subprotocol: 'b', serverName: 'x', limits: { maxAllowedIncomingFrameSize: 1, maxAllowedIncomingMessageSize: 2, outgoingFrameSize: 3 }, frameSignals: false,
    headers: [['Set-Cookie', 'a=1']], attachment: { user: 'ada', roles: ['admin'] },
  };
  const refuse: HandshakeDecision = { accept: false, status: 403, reason: 'Access Forbidden' };
  const response = new Uint8Array([72, 84, 84, 80]);
  writer.decision(1, accept);
  writer.httpResponse(2, response);
  writer.decision(3, refuse);
  writer.relayWrite(4, new Uint8Array([1, 2]));
  writer.relayEnd(4, RelayEnding.End);
  writer.relayEnd(5, RelayEnding.Destroy);
  writer.relayReading(6, false);
  writer.relayReading(6, true);
  const { calls, transfer } = writer.take();
  t.true(writer.isEmpty);
  const received = await postThrough(calls, transfer) as unknown[];
  // Moved: the sender's buffer is detached.
  t.is(response.byteLength, 0);
  const read: unknown[] = [];
  const reader: AnswerReader = {
    decision: (id, decision) => read.push(['decision', id, decision]),
    httpResponse: (id, bytes) => read.push(['httpResponse', id, Array.from(bytes)]),
    relayWrite: (id, bytes) => read.push(['relayWrite', id, Array.from(bytes)]),
    relayEnd: (id, ending) => read.push(['relayEnd', id, ending]),
    relayReading: (id, reading) => read.push(['relayReading', id, reading]),
  };
  readAnswerCalls(received, reader);
  t.deepEqual(read, [
    ['decision', 1, accept], ['httpResponse', 2, [72, 84, 84, 80]], ['decision', 3, refuse],
    ['relayWrite', 4, [1, 2]], ['relayEnd', 4, RelayEnding.End], ['relayEnd', 5, RelayEnding.Destroy],
    ['relayReading', 6, false], ['relayReading', 6, true],
  ]);
});

test('a batch cut short or with an unknown call is malformed', (t) => {
  t.throws(() => readHandshakeCalls([0, 1], recordingReader([])), { message: /Malformed/ });
  t.throws(() => readHandshakeCalls([9, 1, 0], recordingReader([])), { message: /Unknown handshake call/ });
  t.throws(() => readAnswerCalls([7, 1, 0], { decision() {}, httpResponse() {}, relayWrite() {}, relayEnd() {}, relayReading() {} }), { message: /Unknown answer call/ });
});
