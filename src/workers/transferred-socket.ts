/**
 * A socket moved here from the owner, remade as an ordinary one around the same handle.
 *
 * Node delivers a transferred `net.Socket` (its `[kDeserialize]`) with its properties in V8's
 * dictionary mode: a hash table of 1.6 KiB per connection where an accepted socket holds 280
 * bytes, and a hash lookup for every property Node's stream code reads on it. A Socket made
 * around the same handle, as `net.Server` makes the sockets it accepts, is an ordinary object.
 *
 * The handle is the one private part this touches: Node's own transfer detaches a socket from its
 * handle the same way (`_handle = null`, then `destroy()`, which then has no handle to close).
 */
import { Socket } from 'node:net';

/** What `net.Server` passes for a socket it accepts, and not in Node's typings. */
interface AcceptedSocketOptions {
  handle: unknown;
  allowHalfOpen: boolean;
  /** As `pauseOnConnect`: nothing is read until the socket is resumed. */
  pauseOnCreate: boolean;
  readable: boolean;
  writable: boolean;
}

type SocketWithHandle = Socket & { _handle: unknown };

export function remadeSocket(received: Socket): Socket {
  const moved = received as SocketWithHandle;
  const handle = moved._handle;
  // Nothing to remake (a Node whose transfer changed): the socket serves as it came.
  if (handle === null || handle === undefined) return received;
  moved._handle = null;
  moved.destroy();
  const options: AcceptedSocketOptions = { handle, allowHalfOpen: received.allowHalfOpen, pauseOnCreate: true, readable: true, writable: true };
  return new Socket(options as ConstructorParameters<typeof Socket>[0]);
}
