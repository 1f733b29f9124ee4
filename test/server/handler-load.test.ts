/**
 * A handler module that cannot serve fails listen() with serverError(1006) and an errorString
 * naming the module and the cause, before any port is bound; a good one listens and serves.
 */
import test from 'ava';
import { WebSocketServer, SecureMode, SocketError, type WebSocketError } from '../../src/index.ts';
import { bothTransports, connect, EchoHandlerUrl, nextMessage, startServer, within } from './support.ts';

const Broken = [
  ['a module that does not exist', new URL('./fixtures/does-not-exist.ts', import.meta.url), /cannot be loaded: Cannot find module/],
  ['a module whose top level throws', new URL('./fixtures/throwing-import-handler.ts', import.meta.url), /cannot be loaded: this handler module fails to load on purpose/],
  ['a module that exports no function', new URL('./fixtures/no-function-handler.ts', import.meta.url), /cannot be loaded: .*must export a function/],
] as const;

for (const [what, url, reason] of Broken) {
  bothTransports(`listen() resolves false for ${what}`, async (t, workers) => {
    const server = new WebSocketServer('handler-load', SecureMode.NonSecure, { workers, handler: url });
    t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
    const errors: Array<[number, WebSocketError]> = [];
    server.on('serverError', (code, error) => errors.push([code, error]));
    t.false(await server.listen('127.0.0.1', 0));
    t.false(server.isListening());
    t.is(server.serverPort(), 0);
    t.is(server.error(), 1006);
    t.is(server.socketError(), SocketError.UnknownSocket);
    t.true(server.errorString().includes(url.href), server.errorString());
    t.regex(server.errorString(), reason);
    t.is(errors.length, 1);
    t.is(errors[0]![0], 1006);
    t.is(errors[0]![1].message, server.errorString());
  });
}

bothTransports('a handler module that loads lets listen() resolve true and serves', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl });
  const client = await connect(t, server.serverUrl());
  client.send('checked before listening');
  const [data] = await nextMessage(client);
  t.is(data.toString(), 'checked before listening');
});

test('a second listen() while the handler module loads is refused', async (t) => {
  const server = new WebSocketServer('handler-load', SecureMode.NonSecure, { workers: 0, handler: EchoHandlerUrl });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  const first = server.listen('127.0.0.1', 0);
  t.false(await server.listen('127.0.0.1', 0));
  t.regex(server.errorString(), /already listening/);
  t.true(await first);
});
