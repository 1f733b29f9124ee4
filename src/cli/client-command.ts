import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { InvalidArgumentError as CommanderArgumentError, Option, type Command } from 'commander';
import { CloseCode } from '../shared/engine/close-code.ts';
import { WebSocketError } from '../shared/engine/errors.ts';
import { ProxyFromEnvironment, WebSocket } from '../shared/connection/websocket.ts';

export interface ClientCommandOptions {
  /** Send each stdin line as a binary message (its UTF-8 bytes, without the newline). */
  binary?: boolean;
  subprotocol?: string[];
  /** `Name: value` strings. */
  header?: string[];
  origin?: string;
  /** Proceed despite certificate errors (self-signed, wrong name, unknown CA). */
  insecure?: boolean;
  /** PEM file of a CA to trust, in addition to nothing else (as `ca` replaces the default roots). */
  ca?: string;
  /** Echo every message back as it came until the server closes; stdin is not read. */
  echo?: boolean;
  /** How binary messages are printed: `hex` (default) or `base64`. */
  binaryOutput?: 'hex' | 'base64';
  /** `host:port` of an HTTP proxy to tunnel through with CONNECT. */
  proxy?: string;
  /** false (`--no-env-proxy`): ignore https_proxy/http_proxy/no_proxy when no --proxy is given. */
  envProxy?: boolean;
  /** `user:password` answering a 401 (Basic, one retry). */
  auth?: string;
  /** PEM files of a client certificate and its key, for servers that ask for one. */
  cert?: string;
  key?: string;
  followRedirects?: number;
  connectTimeout?: number;
  handshakeTimeout?: number;
}

export interface ClientCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Close codes after which the command exits 0: a normal end, the server going away, or a Close without a code. */
const CleanCloseCodes: ReadonlySet<number> = new Set([CloseCode.Normal, CloseCode.GoingAway, CloseCode.MissingStatusCode]);

/** Queued outgoing bytes above which echo mode stops reading until the socket drains. */
const EchoHighWaterMark = 1024 * 1024;

function fail(io: ClientCommandIo, message: string): number {
  io.stderr.write(`wsthreads client: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  return 1;
}

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new CommanderArgumentError(`expected 'Name: value', got ${JSON.stringify(line)}`);
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

function parseProxy(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (match === null) throw new CommanderArgumentError(`expected host:port, got ${JSON.stringify(value)}`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}

/**
 * `wsthreads client <url>`: an interactive client in the spirit of wscat/websocat. Lines from
 * stdin go out as text messages (binary with `--binary`); messages received are printed one per
 * line, text as is and binary as `[binary] <hex>` (or base64 with `--binary-output base64`).
 * When stdin ends the connection is closed normally. Resolves with the exit code: 0 after a
 * normal close (1000, 1001 or no code), 1 with a one-line reason on stderr for anything else.
 */
export async function runClientCommand(url: string, options: ClientCommandOptions, io: ClientCommandIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const socket = new WebSocket({ origin: options.origin ?? '' });
  let headers: Array<[string, string]>;
  let proxy: { host: string; port: number } | undefined;
  let ca: string | undefined;
  let cert: string | undefined;
  let key: string | undefined;
  try {
    headers = (options.header ?? []).map(parseHeader);
    proxy = options.proxy === undefined ? undefined : parseProxy(options.proxy);
    ca = options.ca === undefined ? undefined : readFileSync(options.ca, 'utf8');
    cert = options.cert === undefined ? undefined : readFileSync(options.cert, 'utf8');
    key = options.key === undefined ? undefined : readFileSync(options.key, 'utf8');
  } catch (error) {
    return fail(io, error instanceof Error ? error.message : String(error));
  }
  if (options.insecure) socket.ignoreSslErrors();
  if (proxy !== undefined) socket.setProxy(proxy);
  else if (options.envProxy !== false) socket.setProxy(ProxyFromEnvironment);
  const auth = options.auth;
  if (auth !== undefined) {
    const colon = auth.indexOf(':');
    socket.on('authenticationRequired', (authenticator) => {
      authenticator.setUser(colon === -1 ? auth : auth.slice(0, colon));
      authenticator.setPassword(colon === -1 ? '' : auth.slice(colon + 1));
    });
  }

  let firstError: WebSocketError | undefined;
  socket.on('errorOccurred', (error) => {
    firstError ??= error;
  });
  const disconnected = new Promise<void>((resolve) => socket.once('disconnected', () => resolve()));

  try {
    await socket.open(url, {
      subprotocols: options.subprotocol ?? [],
      headers,
      ca,
      cert,
      key,
      followRedirects: options.followRedirects,
      connectTimeoutMs: options.connectTimeout,
      handshakeTimeoutMs: options.handshakeTimeout,
    });
  } catch (error) {
    const refused = socket.handshakeResponse();
    // A refused upgrade: its status line, as curl -i shows it, before the reason.
    if (refused !== undefined && refused.status !== 101) io.stderr.write(`HTTP/1.1 ${refused.status} ${refused.statusText}`.trimEnd() + '\n');
    return fail(io, error instanceof Error ? error.message : String(error));
  }

  let stopInput = (): void => {};
  if (options.echo) {
    // Messages already read keep arriving after pauseReading(): wait for the drain once, not once per message.
    let relieving = false;
    const relieve = (): void => {
      if (socket.bytesToWrite() <= EchoHighWaterMark / 2) {
        relieving = false;
        socket.off('bytesWritten', relieve);
        socket.resumeReading();
      }
    };
    const backpressure = (): void => {
      if (!relieving && socket.bytesToWrite() > EchoHighWaterMark) {
        relieving = true;
        socket.pauseReading();
        socket.on('bytesWritten', relieve);
      }
    };
    socket.on('textMessageReceived', (text) => {
      socket.sendTextMessage(text);
      backpressure();
    });
    socket.on('binaryMessageReceived', (data) => {
      socket.sendBinaryMessage(data);
      backpressure();
    });
  } else {
    const encoding = options.binaryOutput ?? 'hex';
    let awaitingDrain = false;
    const print = (line: string): void => {
      if (!io.stdout.write(`${line}\n`) && !awaitingDrain) {
        // A slow terminal or pipe pushes back on the server rather than filling memory.
        awaitingDrain = true;
        socket.pauseReading();
        io.stdout.once('drain', () => {
          awaitingDrain = false;
          socket.resumeReading();
        });
      }
    };
    socket.on('textMessageReceived', (text) => print(text));
    socket.on('binaryMessageReceived', (data) => print(`[binary] ${data.toString(encoding)}`));
    const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (options.binary) socket.sendBinaryMessage(Buffer.from(line, 'utf8'));
      else socket.sendTextMessage(line);
    });
    lines.on('close', () => {
      if (socket.state() === 'Connected') socket.close(CloseCode.Normal);
    });
    stopInput = () => {
      lines.close();
      // readline leaves the stream flowing; a TTY or pipe left open would keep the process alive.
      if (io.stdin === process.stdin) io.stdin.destroy();
      else io.stdin.pause();
    };
  }

  await disconnected;
  stopInput();
  const code = socket.closeCode();
  if (firstError !== undefined) return fail(io, `${firstError.message} (close code ${code})`);
  if (!CleanCloseCodes.has(code)) {
    const reason = socket.closeReason();
    return fail(io, `connection closed with code ${code}${reason === '' ? '' : `: ${reason}`}`);
  }
  return 0;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new CommanderArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return parsed;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds `client <url>` to a commander program; the action sets `process.exitCode`. */
export function registerClientCommand(program: Command): Command {
  return program
    .command('client')
    .description('connect to a WebSocket server: stdin lines are sent as messages, received messages printed one per line; exits 0 after a normal close, 1 with a one-line reason otherwise')
    .argument('<url>', 'ws:// or wss:// URL')
    .option('--binary', 'send stdin lines as binary messages')
    .option('--subprotocol <name>', 'offer a subprotocol (repeatable)', collect)
    .option('-H, --header <header>', "extra request header 'Name: value' (repeatable)", collect)
    .option('--origin <origin>', 'Origin header')
    .option('--insecure', 'accept any TLS certificate (self-signed, wrong name, unknown CA)')
    .option('--ca <file>', 'PEM file of the CA to trust')
    .option('--cert <file>', 'PEM file of a client certificate (with --key)')
    .option('--key <file>', 'PEM file of the client certificate\'s key')
    .option('--auth <user:password>', 'credentials for a 401 (Basic, one retry)')
    .option('--echo', 'echo every message back as received until the server closes (stdin is ignored)')
    .addOption(new Option('--binary-output <format>', "received binary messages are printed as '[binary] <hex or base64>'").choices(['hex', 'base64']).default('hex'))
    .option('--proxy <host:port>', 'HTTP proxy to tunnel through with CONNECT (default: https_proxy/http_proxy/no_proxy as curl reads them)')
    .option('--no-env-proxy', 'ignore the proxy variables of the environment')
    .option('--follow-redirects <n>', 'follow up to n redirects', integer)
    .option('--connect-timeout <ms>', 'DNS, TCP, proxy and TLS timeout', integer)
    .option('--handshake-timeout <ms>', 'opening handshake timeout', integer)
    .action(async (url: string, options: ClientCommandOptions) => {
      process.exitCode = await runClientCommand(url, options);
    });
}
