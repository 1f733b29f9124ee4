// Mutual TLS: the server asks for client certificates signed by a CA made at test time; without
// one (VerifyPeer) no request is read; with one the upgrade handler and the handler module in the
// thread see its subject.
import test from 'ava';
import WS from 'ws';
import { PeerVerifyMode, type PeerCertificate } from '../../src/shared/connection/peer-certificate.ts';
import { WebSocket } from '../../src/shared/connection/websocket.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import type { UpgradeRequest } from '../../src/main/upgrade-handler.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { bothTransports, connect, EchoHandlerUrl, hasOpenssl, makeTestPki, next, nextMessage, startServer, within } from './support.ts';
import type { TestPki } from '../client/support.ts';

const tlsTest = hasOpenssl() ? bothTransports : (title: string) => test.skip(title, () => {});
let pki: TestPki;
test.before(() => {
  if (hasOpenssl()) pki = makeTestPki();
});

/** Resolves with the error a `ws` client gets when the connection fails before opening. */
function failure(client: WS): Promise<Error> {
  return within(new Promise<Error>((resolve, reject) => {
    client.once('open', () => reject(new Error('the connection opened')));
    client.once('error', resolve);
  }), 10_000, 'the connection to fail');
}

tlsTest('VerifyPeer: no client certificate, no connection; a valid one reaches the handler with its subject', async (t, workers) => {
  const requests: UpgradeRequest[] = [];
  const server = await startServer(t, workers, {
    handler: EchoHandlerUrl,
    tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert },
    peerVerifyMode: PeerVerifyMode.VerifyPeer,
    upgradeHandler: (request) => {
      requests.push(request);
      return { accept: true, attachment: { user: request.peerCertificate?.subject.CN } };
    },
  }, SecureMode.Secure);
  t.is(server.peerVerifyMode(), PeerVerifyMode.VerifyPeer);
  const tlsFailures: string[] = [];
  server.on('serverError', (code, error) => { if (code === CloseCode.TlsHandshakeFailed) tlsFailures.push(error.message); });

  const anonymous = new WS(`${server.serverUrl()}/`, { ca: pki.caCert });
  t.teardown(() => anonymous.terminate());
  await failure(anonymous);
  // A certificate the CA did not sign is refused the same way.
  const stranger = new WS(`${server.serverUrl()}/`, { ca: pki.caCert, cert: pki.selfSignedCert, key: pki.selfSignedKey });
  t.teardown(() => stranger.terminate());
  await failure(stranger);
  t.is(requests.length, 0, 'no request was read from a client without a valid certificate');
  while (tlsFailures.length < 2) await next(server, 'serverError', 10_000);
  t.regex(tlsFailures[0]!, /certificate/i);
  t.regex(tlsFailures[1]!, /client certificate was refused \((DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)/);

  const client = await connect(t, `${server.serverUrl()}/mtls`, undefined, { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });
  const answer = nextMessage(client);
  client.send('whoami');
  const seen = JSON.parse((await answer)[0].toString()) as { attachment: { user: string }; subject: Record<string, string> };
  t.deepEqual(seen.attachment, { user: 'ada' });
  t.is(seen.subject.CN, 'ada');
  t.is(seen.subject.O, 'wsthreads tests');
  const certificate = requests[0]!.peerCertificate!;
  t.true(certificate.verified);
  t.is(certificate.verifyError, '');
  t.is(certificate.issuer.CN, 'wsthreads test CA');
  t.regex(certificate.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.true(certificate.raw.length > 100);
  t.true(requests[0]!.secure);
});

tlsTest('QueryPeer: the certificate is asked for, not required; what came is on the owner socket with its verdict', async (t, workers) => {
  const server = await startServer(t, workers, {
    tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert },
    peerVerifyMode: PeerVerifyMode.QueryPeer,
  }, SecureMode.Secure);
  const certificates: Array<PeerCertificate | null> = [];
  server.on('newConnection', () => certificates.push(server.nextPendingConnection()!.peerCertificate()));

  await connect(t, `${server.serverUrl()}/`, undefined, { ca: pki.caCert });
  await until(() => certificates.length === 1);
  t.is(certificates[0], null);

  await connect(t, `${server.serverUrl()}/`, undefined, { ca: pki.caCert, cert: pki.selfSignedCert, key: pki.selfSignedKey });
  await until(() => certificates.length === 2);
  t.false(certificates[1]!.verified);
  t.regex(certificates[1]!.verifyError, /SELF_SIGNED|UNABLE_TO/);

  // Our own client presents a certificate through its sslConfiguration.
  const ours = new WebSocket({ sslConfiguration: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey } });
  t.teardown(() => ours.abort());
  await ours.open(`${server.serverUrl()}/`);
  await until(() => certificates.length === 3);
  t.true(certificates[2]!.verified);
  t.is(certificates[2]!.subject.CN, 'ada');

  async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await next(server, 'newConnection', 10_000);
  }
});

tlsTest('setSslConfiguration at run time: a new client CA list reaches every thread, the connection already open stays', async (t, workers) => {
  const next2 = makeTestPki();
  const server = await startServer(t, workers, {
    handler: EchoHandlerUrl,
    tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert },
    peerVerifyMode: PeerVerifyMode.VerifyPeer,
  }, SecureMode.Secure);
  const url = `${server.serverUrl()}/`;
  const before = await connect(t, url, undefined, { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });

  // Rotation: the server certificate and the client CA both change.
  server.setSslConfiguration({ key: next2.serverKey, cert: next2.serverCert, ca: next2.caCert });
  const oldClient = new WS(url, { ca: next2.caCert, cert: pki.clientCert, key: pki.clientKey });
  t.teardown(() => oldClient.terminate());
  await failure(oldClient);
  // Until every pool thread has served one after the change (the threads accept, and the
  // kernel spreads connections by a hash: 40 at most).
  const served = new Set<string>();
  for (let i = 0; i < 40 && served.size < Math.max(1, workers); i++) {
    const fresh = await connect(t, url, undefined, { ca: next2.caCert, cert: next2.clientCert, key: next2.clientKey });
    const thread = nextMessage(fresh);
    fresh.send('thread');
    served.add((await thread)[0].toString());
    const answer = nextMessage(fresh);
    fresh.send('whoami');
    t.is((JSON.parse((await answer)[0].toString()) as { subject: Record<string, string> }).subject.CN, 'ada');
    fresh.terminate();
  }
  t.is(served.size, Math.max(1, workers), `threads that served: ${[...served].join(', ')}`);
  const echo = nextMessage(before);
  before.send('still here');
  t.is((await echo)[0].toString(), 'still here');
});

test('peerVerifyMode needs SecureMode.Secure and a known mode', (t) => {
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: 0, peerVerifyMode: PeerVerifyMode.VerifyPeer }), { name: 'InvalidArgumentError' });
  t.throws(() => new WebSocketServer('x', SecureMode.Secure, { workers: 0, peerVerifyMode: 'Sometimes' as PeerVerifyMode, tls: {} }), { name: 'InvalidArgumentError' });
  t.is(new WebSocketServer('x', SecureMode.Secure, { workers: 0, tls: {} }).peerVerifyMode(), PeerVerifyMode.VerifyNone);
});
