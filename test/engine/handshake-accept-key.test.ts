import test from 'ava';
import { acceptKey, generateHandshakeKey, isValidHandshakeKey, WebSocketGuid } from '../../src/shared/engine/accept-key.ts';

test('RFC 6455 1.3 / 4.2.2 example: dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', (t) => {
  t.is(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('the GUID is the one in RFC 6455 1.3', (t) => {
  t.is(WebSocketGuid, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
});

test('acceptKey agrees with SHA-1 from WebCrypto for random keys', async (t) => {
  for (let i = 0; i < 20; i++) {
    const key = generateHandshakeKey();
    const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(key + WebSocketGuid));
    t.is(acceptKey(key), Buffer.from(digest).toString('base64'));
  }
});

test('generated keys are base64 of 16 bytes and differ', (t) => {
  const keys = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const key = generateHandshakeKey();
    t.true(isValidHandshakeKey(key), key);
    t.is(Buffer.from(key, 'base64').length, 16);
    keys.add(key);
  }
  t.is(keys.size, 50);
});

test('isValidHandshakeKey accepts exactly base64 of 16 bytes', (t) => {
  t.true(isValidHandshakeKey('dGhlIHNhbXBsZSBub25jZQ=='));
  t.true(isValidHandshakeKey('AAAAAAAAAAAAAAAAAAAAAA=='));
  t.true(isValidHandshakeKey('++++++++++++++++++++//=='));
  // non-zero pad bits still decode to 16 bytes (RFC 4648 3.5 leaves rejecting them optional)
  t.true(isValidHandshakeKey('dGhlIHNhbXBsZSBub25jZR=='));
  for (const bad of [
    '',
    'short',
    'dGhlIHNhbXBsZSBub25jZQ', // no padding
    'dGhlIHNhbXBsZSBub25jZQ=', // one pad character
    'dGhlIHNhbXBsZSBub25jZTE=', // 17 bytes
    'dGhlIHNhbXBsZSBub25jZQ==AAAA', // 19 bytes
    'dGhlIHNhbXBsZSBub25j*Q==', // not base64
    'dGhlIHNhbXBsZSBub25jZQ-_', // base64url
    ' dGhlIHNhbXBsZSBub25jZQ==',
    'dGhlIHNhbXBsZSBub25jZQ==\n',
  ]) {
    t.false(isValidHandshakeKey(bad), JSON.stringify(bad));
  }
});
