import test from 'ava';
import { SocketError, WebSocketError } from '../../src/index.ts';
import { buildUpgradeRequest } from '../../src/shared/connection/client-open.ts';
import { parseClientUrl } from '../../src/shared/connection/client-url.ts';

test('default ports, Host header and resource name', (t) => {
  const plain = parseClientUrl('ws://example.org');
  t.like(plain, { secure: false, host: 'example.org', port: 80, hostHeader: 'example.org', resourceName: '/' });
  const secure = parseClientUrl('wss://example.org/chat?room=1&x=%20y#fragment');
  t.like(secure, { secure: true, port: 443, resourceName: '/chat?room=1&x=%20y', url: 'wss://example.org/chat?room=1&x=%20y' });
  t.like(parseClientUrl('ws://example.org:8080/a'), { port: 8080, hostHeader: 'example.org:8080' });
  t.like(parseClientUrl('WS://EXAMPLE.org/Path'), { host: 'example.org', resourceName: '/Path' });
});

test('IPv4 and IPv6 literals', (t) => {
  t.like(parseClientUrl('ws://127.0.0.1:9000/'), { host: '127.0.0.1', port: 9000, hostHeader: '127.0.0.1:9000' });
  t.like(parseClientUrl('ws://[::1]:9000/x'), { host: '::1', port: 9000, hostHeader: '[::1]:9000' });
  t.like(parseClientUrl('wss://[2001:db8::1]/'), { host: '2001:db8::1', port: 443, hostHeader: '[2001:db8::1]' });
});

test('schemes other than ws and wss, and unparseable URLs, are typed errors', (t) => {
  for (const url of ['http://example.org/', 'ftp://example.org/', 'file:///etc/passwd']) {
    const error = t.throws(() => parseClientUrl(url), { instanceOf: WebSocketError });
    t.is(error?.kind, SocketError.UnsupportedSocketOperation, url);
  }
  const error = t.throws(() => parseClientUrl('ws//missing-colon'), { instanceOf: WebSocketError });
  t.is(error?.kind, SocketError.ConnectionRefused);
});

test('credentials in the URL become Basic authorization, and never reach the Host header', (t) => {
  const target = parseClientUrl('ws://al%20ice:p%40ss@example.org/');
  t.is(target.hostHeader, 'example.org');
  const request = buildUpgradeRequest({ origin: '', subprotocols: [], headers: [], extensions: [] }, target);
  t.deepEqual(request.fields.find(([name]) => name === 'Authorization'), ['Authorization', `Basic ${Buffer.from('al ice:p@ss').toString('base64')}`]);
  const explicit = buildUpgradeRequest({ origin: '', subprotocols: [], headers: [['Authorization', 'Bearer t']], extensions: [] }, target);
  t.deepEqual(explicit.fields.filter(([name]) => name === 'Authorization'), [['Authorization', 'Bearer t']]);
});
