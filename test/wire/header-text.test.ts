import { Buffer } from 'node:buffer';
import test from 'ava';
import fc from 'fast-check';
import { headerListOf, headerTextOf } from '../../src/shared/connection/header-text.ts';
import { ServerHandshakeParser } from '../../src/shared/engine/handshake-request.ts';
import { postThrough } from '../helpers/post-through.ts';

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
// A parsed field value: no CR, LF or NUL, and no whitespace at either end (RFC 9110 5.5).
const value = fc.string({ maxLength: 40 }).map((text) => text.replace(/[\r\n\0]/g, '').trim());

test('header text keeps every field, in order, byte for byte, across a real MessagePort', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(token, value), { maxLength: 30 }), async (fields) => {
    const text = await postThrough(headerTextOf(fields)) as string;
    t.deepEqual(headerListOf(text), fields);
  }), { numRuns: 200 });
});

test('a value with ": " in it, and an empty value, survive', (t) => {
  const fields = [['X-Time', '12: 30: 00'], ['X-Empty', ''], ['Cookie', 'a=1; b=2']] as const;
  t.deepEqual(headerListOf(headerTextOf(fields)), fields);
});

test('the fields of a real upgrade request, as the handshake parser read them', (t) => {
  const parser = new ServerHandshakeParser();
  const request = 'GET /chat HTTP/1.1\r\nHost: example.org\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Odd:   spaced value  \r\n\r\n';
  const result = parser.feed(Buffer.from(request, 'latin1'));
  if (result.kind !== 'request') return t.fail(`expected a request, got ${result.kind}`);
  const text = headerTextOf(result.request.rawHeaders);
  t.deepEqual(headerListOf(text), result.request.rawHeaders);
  t.deepEqual(headerListOf(text).find(([name]) => name === 'X-Odd'), ['X-Odd', 'spaced value']);
});
