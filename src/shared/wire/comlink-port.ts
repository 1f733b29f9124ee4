/**
 * A Node `MessagePort` as a Comlink endpoint, through Comlink's own Node adapter
 * (`comlink/dist/umd/node-adapter`). The adapter is a UMD module whose `module.exports` is the
 * function itself; its typings declare a default export instead, hence the cast.
 */
import type { Endpoint } from 'comlink';
import nodeAdapterModule from 'comlink/dist/umd/node-adapter.js';
import type { MessagePort } from 'node:worker_threads';

type NodeAdapter = typeof nodeAdapterModule.default;
const nodeEndpoint = nodeAdapterModule as unknown as NodeAdapter;

export function portEndpoint(port: MessagePort): Endpoint {
  return nodeEndpoint(port as unknown as Parameters<NodeAdapter>[0]);
}
