import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { InvalidArgumentError as CommanderArgumentError, Option, type Command } from 'commander';
import { CloseCode } from '../shared/engine/close-code.ts';
import { WebSocketError } from '../shared/engine/errors.ts';
import { State } from '../shared/engine/state.ts';
import { ProxyFromEnvironment, WebSocket } from '../shared/connection/websocket.ts';
import { parseConsoleLine, runConsoleLine, TerminalConsole } from './client-console.ts';
import { timeSpan } from './option-values.ts';

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
  /** Send these messages, print what comes back, and close (see `wait`); stdin is not read. */
  execute?: string[];
  /** With `execute`: close once a message per message sent has arrived, or after this many ms. */
  wait?: number;
  /** Slash commands on piped input too (a terminal always has them). */
  slash?: boolean;
}

export interface ClientCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Prompt, marks and line editing; default: when stdin and stdout are terminals. */
  interactive?: boolean;
}

/** How long `--execute` waits for replies by default (wscat's). */
export const DefaultExecuteWaitMs = 2000;

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

/** `host:port/path` means `ws://host:port/path`, as wscat and browsers' address bars read it. */
export function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `ws://${url}`;
}

function isTerminal(stream: Readable | Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/**
 * `wsthreads client <url>`: an interactive client in the spirit of wscat/websocat. Lines from
 * stdin go out as text messages (binary with `--binary`); messages received are printed one per
 * line, text as is and binary as `[binary] <hex>` (or base64 with `--binary-output base64`). On a
 * terminal: a banner, a prompt, `< ` before what was received, line editing and history, the
 * slash commands (client-console.ts), and Ctrl-C closes with 1000. When stdin ends the connection
 * is closed normally. Resolves with the exit code: 0 after a normal close (1000, 1001 or no code)
 * or one the user asked for, 1 with a one-line reason on stderr for anything else.
 */
export async function runClientCommand(givenUrl: string, options: ClientCommandOptions, io: ClientCommandIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const url = withScheme(givenUrl);
  const interactive = options.execute === undefined && options.echo !== true && (io.interactive ?? (isTerminal(io.stdin) && isTerminal(io.stdout)));
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

  // A close the user asked for (Ctrl-C, /close, end of input, --execute) ends the command well.
  let closedByUs = false;
  const closing = (): void => {
    closedByUs = true;
  };
  let stopInput = (): void => {};
  // Piped output stays the messages alone; the close code goes to stderr after Ctrl-C or /close.
  let announceClose = false;
  let sayClosed = (line: string): void => {
    if (announceClose) io.stderr.write(`${line}\n`);
  };
  const closeNormally = (): void => {
    closing();
    if (socket.state() === State.Connected) socket.close(CloseCode.Normal);
  };
  const onInterrupt = (): void => {
    announceClose = true;
    closeNormally();
  };
  if (!interactive) process.once('SIGINT', onInterrupt);

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
    let print = (line: string): void => {
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
    let received = 0;
    let onReceived = (): void => {};
    socket.on('textMessageReceived', (text) => {
      print(text);
      onReceived();
    });
    socket.on('binaryMessageReceived', (data) => {
      print(`[binary] ${data.toString(encoding)}`);
      onReceived();
    });
    if (options.execute !== undefined) {
      const messages = options.execute;
      const timer = setTimeout(closeNormally, options.wait ?? DefaultExecuteWaitMs);
      onReceived = () => {
        if (++received >= messages.length) closeNormally();
      };
      socket.once('disconnected', () => clearTimeout(timer));
      for (const message of messages) runConsoleLine(socket, { kind: 'send', text: message }, options.binary === true, () => {});
    } else if (interactive) {
      const terminal = new TerminalConsole(socket, { input: io.stdin, output: io.stdout, binary: options.binary === true, closing, closeNormally });
      print = (line) => terminal.show(`< ${line}`);
      socket.on('pong', (elapsedMs, payload) => terminal.show(`< pong (${elapsedMs.toFixed(1)} ms)${payload.length === 0 ? '' : ` ${payload.toString()}`}`));
      sayClosed = (line) => terminal.end(line);
      terminal.banner(url, socket.subprotocol());
      stopInput = () => {
        // readline leaves the stream flowing; a TTY left open would keep the process alive.
        if (io.stdin === process.stdin) io.stdin.destroy();
        else io.stdin.pause();
      };
    } else {
      const slash = options.slash === true;
      if (slash) socket.on('pong', (elapsedMs, payload) => io.stderr.write(`pong (${elapsedMs.toFixed(1)} ms)${payload.length === 0 ? '' : ` ${payload.toString()}`}\n`));
      const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
      lines.on('line', (line) => {
        const parsed = slash ? parseConsoleLine(line) : { kind: 'send' as const, text: line };
        if (!runConsoleLine(socket, parsed, options.binary === true, (said) => io.stderr.write(`${said}\n`))) {
          announceClose = true;
          closing();
        }
      });
      lines.on('close', () => {
        if (socket.state() === State.Connected) closeNormally();
      });
      stopInput = () => {
        lines.close();
        // readline leaves the stream flowing; a TTY or pipe left open would keep the process alive.
        if (io.stdin === process.stdin) io.stdin.destroy();
        else io.stdin.pause();
      };
    }
  }

  await disconnected;
  process.off('SIGINT', onInterrupt);
  const code = socket.closeCode();
  const reason = socket.closeReason();
  sayClosed(`Disconnected (close code ${code}${reason === '' ? '' : `: ${reason}`})`);
  stopInput();
  if (firstError !== undefined) return fail(io, `${firstError.message} (close code ${code})`);
  if (!closedByUs && !CleanCloseCodes.has(code)) {
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
    .description('connect to a WebSocket server: stdin lines are sent as messages, received messages printed one per line (on a terminal: a prompt, history, /commands, Ctrl-C closes); exits 0 after a normal close, 1 with a one-line reason otherwise')
    .argument('<url>', 'ws:// or wss:// URL (host:port means ws://host:port)')
    .option('-x, --execute <message>', 'send this message (repeatable), print the replies, then close', collect)
    .option('-w, --wait <time>', `with --execute: close after this long at most (500ms, 2s; a bare number is seconds; default ${DefaultExecuteWaitMs / 1000}s), or once a reply per message has arrived`, timeSpan('s'))
    .option('--slash', 'slash commands (/ping, /close) on piped input too')
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
