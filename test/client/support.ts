/**
 * Peers and tools for the client tests: a `ws` server (an independent implementation), raw TCP
 * servers that answer the upgrade however a test needs, a CONNECT proxy, a test CA made with
 * openssl, and bounded waits (a test never sleeps; it awaits an event or fails after a bound).
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type ServerOptions } from 'ws';
import { rawFrame } from '../helpers/frames.ts';

/** Rejects with `label` if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` from `emitter`, failing after `ms`. */
export function next<T extends unknown[] = unknown[]>(emitter: EventEmitter | { once(event: string, listener: (...args: any[]) => void): unknown }, event: string, ms = 5000): Promise<T> {
  return within(new Promise<T>((resolve) => {
    (emitter as EventEmitter).once(event, (...args: unknown[]) => resolve(args as T));
  }), ms, `event ${event}`);
}

/** Polls `condition` (which may ask another thread: a promise) until it holds, failing after `ms`. */
export async function until(condition: () => boolean | Promise<boolean>, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting until ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface WsPeer {
  wss: WebSocketServer;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startWsServer(options: ServerOptions = {}): Promise<WsPeer> {
  const wss = new WebSocketServer(options.server !== undefined || options.noServer === true ? options : { host: '127.0.0.1', port: 0, ...options });
  if (options.server === undefined && options.noServer !== true) await next(wss, 'listening');
  const address = (options.server ?? wss).address() as net.AddressInfo;
  return {
    wss,
    port: address.port,
    url: `ws://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }),
  };
}

export const Guid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + Guid).digest('base64');
}

export interface RawRequest {
  text: string;
  headers: Map<string, string>;
  key: string;
  rest: Buffer;
}

export interface RawServer {
  server: net.Server;
  port: number;
  url: string;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * A TCP server that reads one HTTP request head and hands it to `answer`, which writes whatever
 * the test wants. Used for the handshake failures a correct server never produces.
 */
export async function startRawServer(answer: (socket: net.Socket, request: RawRequest) => void, host = '127.0.0.1'): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const text = head.subarray(0, end).toString('latin1');
      const headers = new Map<string, string>();
      for (const line of text.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      answer(socket, { text, headers, key: headers.get('sec-websocket-key') ?? '', rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    sockets,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A valid 101 answer for `request`, with extra header lines. */
export function switchingProtocols(request: RawRequest, extra: string[] = []): string {
  return ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(request.key)}`, ...extra, '', ''].join('\r\n');
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Proxy {
  port: number;
  /** Every CONNECT request head received. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A minimal HTTP CONNECT proxy on 127.0.0.1: checks `Proxy-Authorization` when `auth` is given
 * (407 otherwise), then pipes bytes both ways. `hang`: accept TCP and never answer.
 */
export async function startConnectProxy(options: { auth?: string; hang?: boolean } = {}): Promise<Proxy> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (options.hang) return;
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.off('data', onData);
      client.pause();
      const text = head.subarray(0, end).toString('latin1');
      requests.push(text);
      const [method, authority] = text.split('\r\n')[0]!.split(' ');
      const auth = /\r\nProxy-Authorization: (.*)/i.exec(text)?.[1];
      if (method !== 'CONNECT') {
        client.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (options.auth !== undefined && auth !== `Basic ${Buffer.from(options.auth).toString('base64')}`) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const colon = authority!.lastIndexOf(':');
      const host = authority!.slice(0, colon).replace(/^\[|\]$/g, '');
      const upstream = net.connect({ host, port: Number(authority!.slice(colon + 1)) });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

export interface TestPki {
  caCert: string;
  /** Signed by the CA, for DNS:localhost and IP:127.0.0.1. */
  serverCert: string;
  serverKey: string;
  /** Self-signed, for DNS:localhost and IP:127.0.0.1. */
  selfSignedCert: string;
  selfSignedKey: string;
  /** A client certificate the CA signed, for `CN=ada` (extendedKeyUsage clientAuth). */
  clientCert: string;
  clientKey: string;
}

/** Whether this machine has an IPv6 loopback (::1) to listen on; a test that needs it is skipped, visibly, without. */
export function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((address) => address.address === '::1') ?? false);
}

/** Whether openssl is on PATH (the TLS tests need it to make their CA). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A fresh CA, a server certificate it signed and a self-signed one, made with openssl in a temp dir. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'wsthreads-pki-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  try {
    const san = 'subjectAltName=DNS:localhost,IP:127.0.0.1';
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-days', '2', '-subj', '/CN=wsthreads test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(join(dir, 'ext.cnf'), `${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.pem',
      '-days', '2', '-subj', '/CN=localhost', '-addext', san);
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=ada/O=wsthreads tests');
    writeFileSync(join(dir, 'client.cnf'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    run('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.cnf');
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    return {
      caCert: read('ca.pem'),
      serverCert: read('server.pem'),
      serverKey: read('server.key'),
      selfSignedCert: read('self.pem'),
      selfSignedKey: read('self.key'),
      clientCert: read('client.pem'),
      clientKey: read('client.key'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { decodeFrames as parseFrames, type DecodedFrame as ParsedFrame } from '../helpers/frames.ts';

/** A raw server that accepts the upgrade and records every byte the client sends after it. */
export async function startRecordingServer(): Promise<RawServer & { wire(): Buffer }> {
  let wire = Buffer.alloc(0);
  const server = await startRawServer((raw, request) => {
    raw.write(switchingProtocols(request));
    raw.on('data', (chunk: Buffer) => {
      wire = Buffer.concat([wire, chunk]);
    });
  });
  return { ...server, wire: () => wire };
}

/** An unmasked server frame. */
export function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  return rawFrame({ opcode, payload, fin });
}

/** A Close payload: code then UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const buffer = Buffer.alloc(2 + Buffer.byteLength(reason));
  buffer.writeUInt16BE(code, 0);
  buffer.write(reason, 2);
  return buffer;
}

/** The error `promise` rejects with; fails if it resolves or takes longer than `ms`. */
export async function rejection<E = Error>(promise: Promise<unknown>, ms = 10_000): Promise<E> {
  return within(promise.then(() => {
    throw new Error('expected a rejection, but the promise resolved');
  }, (error: unknown) => error as E), ms, 'the rejection');
}
