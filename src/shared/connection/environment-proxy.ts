/**
 * The proxy for a URL from the environment, as curl reads it: `https_proxy` (or `HTTPS_PROXY`)
 * for wss://, `http_proxy` for ws:// (lower case only: curl ignores `HTTP_PROXY`, which a CGI
 * request can set through its `Proxy:` header), then `all_proxy`/`ALL_PROXY` for both; none for
 * a host `no_proxy`/`NO_PROXY` names. A NO_PROXY entry is `*` (every host), a host name (itself
 * and its subdomains; a leading dot is the same), an IP address, or an IP range in CIDR form,
 * each optionally with `:port`. Only HTTP proxies (tunnelling with CONNECT) are spoken; a proxy
 * URL of another scheme is an InvalidArgumentError.
 */
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../engine/errors.ts';
import type { ProxyConfiguration } from './client-connect.ts';
import type { ClientTarget } from './client-url.ts';

export type Environment = Readonly<Record<string, string | undefined>>;

function variable(environment: Environment, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = environment[name];
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/** The proxy to use for `target`, or null for a direct connection. */
export function proxyFromEnvironment(target: Pick<ClientTarget, 'host' | 'port' | 'secure'>, environment: Environment = process.env): ProxyConfiguration | null {
  const value = target.secure
    ? variable(environment, 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY')
    : variable(environment, 'http_proxy', 'all_proxy', 'ALL_PROXY');
  if (value === undefined) return null;
  if (bypassed(target.host, target.port, variable(environment, 'no_proxy', 'NO_PROXY') ?? '')) return null;
  return parseProxyUrl(value);
}

/** `http://user:pass@host:port` (scheme and port optional: http, 1080 as curl). */
export function parseProxyUrl(value: string): ProxyConfiguration {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new InvalidArgumentError(`Invalid proxy URL ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:') {
    throw new InvalidArgumentError(`Proxy ${JSON.stringify(value)}: only HTTP proxies (CONNECT) are supported, not ${url.protocol.slice(0, -1)}`);
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const proxy: ProxyConfiguration = { host, port: url.port === '' ? 1080 : Number(url.port) };
  if (url.username !== '' || url.password !== '') {
    proxy.auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  }
  return proxy;
}

function bypassed(host: string, port: number, noProxy: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of noProxy.split(',')) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    // `host:port`, `[v6]:port`: the entry names one port only.
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (withPort !== null) {
      if (Number(withPort[2]) !== port) continue;
      entry = withPort[1]!;
    }
    entry = entry.replace(/^\[|\]$/g, '');
    const slash = entry.indexOf('/');
    if (slash !== -1) {
      if (inRange(name, entry.slice(0, slash), Number(entry.slice(slash + 1)))) return true;
      continue;
    }
    if (isIP(entry) !== 0 || isIP(name) !== 0) {
      if (entry === name) return true;
      continue;
    }
    const domain = entry.startsWith('.') ? entry.slice(1) : entry;
    if (name === domain || name.endsWith(`.${domain}`)) return true;
  }
  return false;
}

function inRange(address: string, network: string, prefix: number): boolean {
  const family = isIP(network);
  if (family === 0 || isIP(address) !== family || !Number.isInteger(prefix)) return false;
  const list = new BlockList();
  try {
    list.addSubnet(network, prefix, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
