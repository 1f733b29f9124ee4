/**
 * Before the pool threads share a port (SO_REUSEPORT, see ThreadListener), the port is bound once
 * without sharing: Linux lets any socket of the same user that asks for SO_REUSEPORT join a
 * port, so a second server started on a port in use would otherwise share it in silence instead
 * of failing with EADDRINUSE. The exclusive socket closes at once and the shared ones bind the
 * port it had (the one the kernel picked, for port 0).
 */
import { createServer, type ListenOptions } from 'node:net';

export function claimPort(target: ListenOptions): Promise<{ port: number } | { error: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    probe.listen({ host: target.host, port: target.port, ipv6Only: target.ipv6Only }, () => {
      const address = probe.address();
      const port = address !== null && typeof address === 'object' ? address.port : 0;
      // close() releases the descriptor now; its callback only reports it.
      probe.close();
      resolve({ port });
    });
  });
}
