// Every server-side connection runs with TCP_NODELAY, whichever thread accepted it and wherever it
// is served, also a socket handed over from the application's own net.Server. Read from the
// kernel: the server's end of the connection is found by its ports in /proc/net/tcp, its file
// descriptor in /proc/self/fd (pool threads share the process's), and python3 reads the option
// off that descriptor, inherited.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import test from 'ava';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { EchoHandlerUrl, connect, nextMessage, startServer, within } from './support.ts';

/** The inode of the TCP socket with these local and remote ports (IPv4 loopback here). */
function socketInode(localPort: number, remotePort: number): string | undefined {
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const local = Number.parseInt(fields[1]!.split(':')[1]!, 16);
    const remote = Number.parseInt(fields[2]!.split(':')[1]!, 16);
    if (local === localPort && remote === remotePort) return fields[9];
  }
  return undefined;
}

function descriptorOf(inode: string): number | undefined {
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `socket:[${inode}]`) return Number(fd);
    } catch {
      // A descriptor closed while we looked.
    }
  }
  return undefined;
}

/** TCP_NODELAY (0 or 1) of the server's end of the client connection `client`. */
async function serverNoDelay(serverPort: number, client: Awaited<ReturnType<typeof connect>>): Promise<number> {
  const clientPort = (client as unknown as { _socket: net.Socket })._socket.localPort!;
  const inode = socketInode(serverPort, clientPort);
  if (inode === undefined) throw new Error(`no socket from port ${serverPort} to ${clientPort} in /proc/net/tcp`);
  const fd = descriptorOf(inode);
  if (fd === undefined) throw new Error(`socket inode ${inode} is not among this process's descriptors`);
  const script = 'import socket; s = socket.fromfd(3, socket.AF_INET, socket.SOCK_STREAM); print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))';
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe', fd] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 10_000, 'python3');
  if (code !== 0) throw new Error(`python3 exited with ${code}: ${err}`);
  return Number(out.trim());
}

async function echoed(client: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const reply = nextMessage(client);
  client.send('served');
  await reply;
}

for (const [workers, accept] of [[0, undefined], [2, 'threads'], [2, 'owner']] as const) {
  test.serial(`the server's end of a connection has TCP_NODELAY [workers: ${workers}${accept === undefined ? '' : `, accept: ${accept}`}]`, async (t) => {
    const server = await startServer(t, workers, { handler: EchoHandlerUrl, ...(accept === undefined ? {} : { accept }) });
    const client = await connect(t, server.serverUrl());
    await echoed(client);
    t.is(await serverNoDelay(server.serverPort(), client), 1);
  });
}

test.serial('a socket handed over from the application\'s own net.Server, which leaves Nagle on, gets TCP_NODELAY too [workers: 2]', async (t) => {
  const server = new WebSocketServer('wsthreads-test', SecureMode.NonSecure, { workers: 2, handler: EchoHandlerUrl });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  const acceptor = net.createServer({ pauseOnConnect: true }, (socket) => server.handleConnection(socket));
  await within(new Promise<void>((resolve) => acceptor.listen(0, '127.0.0.1', () => resolve())), 5000, 'the acceptor');
  t.teardown(() => acceptor.close());
  const port = (acceptor.address() as net.AddressInfo).port;
  const client = await connect(t, `ws://127.0.0.1:${port}`);
  await echoed(client);
  t.is(await serverNoDelay(port, client), 1);
});
