// The owner's end of a relayed HTTP connection, without threads: its flow control both ways.
import { Buffer } from 'node:buffer';
import test from 'ava';
import { RelayHighWaterMark, RelayedHttpSocket, type RelayWriter } from '../../src/main/relayed-http-socket.ts';
import { RelayEnding } from '../../src/shared/wire/handshake-batch.ts';

function recordingWriter(): RelayWriter & { written: number; reading: boolean[]; ends: RelayEnding[] } {
  const writer = {
    written: 0,
    reading: [] as boolean[],
    ends: [] as RelayEnding[],
    relayWrite: (_id: number, bytes: Uint8Array) => { writer.written += bytes.length; },
    relayEnd: (_id: number, ending: RelayEnding) => { writer.ends.push(ending); },
    relayReading: (_id: number, reading: boolean) => { writer.reading.push(reading); },
  };
  return writer;
}

const request = {
  method: 'GET', resourceName: '/', path: '/', query: '', httpVersion: '1.1', headers: {}, rawHeaders: [], host: 'h',
  secure: false, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, received: new Uint8Array(0),
};

test('a write beyond the high-water mark completes only once the thread reports bytes flushed', async (t) => {
  const writer = recordingWriter();
  const socket = new RelayedHttpSocket(1, writer, request);
  const chunk = Buffer.alloc(256 * 1024);
  const completed: number[] = [];
  const count = (RelayHighWaterMark / chunk.length) + 2;
  for (let i = 0; i < count; i++) socket.write(chunk, () => completed.push(i));
  await new Promise((resolve) => setImmediate(resolve));
  // Everything up to the mark completed; the next write waits, and nothing after it is sent.
  t.is(completed.length, RelayHighWaterMark / chunk.length);
  t.is(writer.written, RelayHighWaterMark + chunk.length);
  socket.flushed(chunk.length);
  await new Promise((resolve) => setImmediate(resolve));
  t.is(completed.length, RelayHighWaterMark / chunk.length + 1);
  socket.flushed(writer.written);
  await new Promise((resolve) => setImmediate(resolve));
  t.is(completed.length, count);
  socket.end();
  await new Promise((resolve) => socket.once('finish', resolve));
  t.deepEqual(writer.ends, [RelayEnding.End]);
});

test('bytes the HTTP server does not read stop the thread reading the client; reading again resumes it', async (t) => {
  const writer = recordingWriter();
  const socket = new RelayedHttpSocket(1, writer, request);
  socket.pause();
  for (let i = 0; i < 8; i++) socket.receive(new Uint8Array(16 * 1024));
  t.deepEqual(writer.reading, [false], 'asked once to stop');
  let read = 0;
  socket.on('data', (chunk: Buffer) => { read += chunk.length; });
  socket.resume();
  await new Promise((resolve) => setImmediate(resolve));
  t.is(read, 8 * 16 * 1024);
  t.deepEqual(writer.reading, [false, true]);
  socket.destroy();
  t.deepEqual(writer.ends, [RelayEnding.Destroy]);
});
