/**
 * The terminal side of `wsthreads client`: on a TTY a banner, a `> ` prompt with line editing and
 * history (node:readline), received messages marked `< ` and printed above the prompt, Ctrl-C as
 * a normal close; and the slash commands, which piped input gets too with `--slash`.
 */
import { Buffer } from 'node:buffer';
import { clearLine, cursorTo, createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { CloseCode } from '../shared/engine/close-code.ts';
import type { WebSocket } from '../shared/connection/websocket.ts';

export const SlashHelp = [
  '/ping [data]            send a ping; the pong is printed with its round trip',
  '/close [code] [reason]  close the connection (default 1000)',
  '/help                   this list',
  '//text                  send "/text"',
].join('\n');

/** What a line typed at the client means. */
export type ConsoleLine =
  | { kind: 'send'; text: string }
  | { kind: 'ping'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

/** Reads one line with the slash commands; every other line is a message. */
export function parseConsoleLine(line: string): ConsoleLine {
  if (!line.startsWith('/')) return { kind: 'send', text: line };
  if (line.startsWith('//')) return { kind: 'send', text: line.slice(1) };
  const [command = '', ...words] = line.slice(1).split(' ');
  const rest = words.join(' ');
  switch (command) {
    case 'ping': return { kind: 'ping', data: rest };
    case 'help': return { kind: 'help' };
    case 'close': {
      const [codeText, ...reason] = words;
      if (codeText === undefined || codeText === '') return { kind: 'close', code: CloseCode.Normal, reason: '' };
      const code = Number(codeText);
      if (!Number.isInteger(code)) return { kind: 'invalid', message: `/close: the code must be an integer, got ${JSON.stringify(codeText)}` };
      return { kind: 'close', code, reason: reason.join(' ') };
    }
    default: return { kind: 'invalid', message: `unknown command /${command} (/help lists them; //text sends "/text")` };
  }
}

/**
 * Carries out one line on `socket`; `say` prints a line for the user. Returns false when the
 * line asked to close. Errors (a close code the protocol does not allow) are said, not thrown.
 */
export function runConsoleLine(socket: WebSocket, line: ConsoleLine, binary: boolean, say: (line: string) => void): boolean {
  switch (line.kind) {
    case 'send':
      if (binary) socket.sendBinaryMessage(Buffer.from(line.text, 'utf8'));
      else socket.sendTextMessage(line.text);
      return true;
    case 'ping':
      socket.ping(line.data);
      return true;
    case 'help':
      say(SlashHelp);
      return true;
    case 'invalid':
      say(line.message);
      return true;
    case 'close':
      try {
        socket.close(line.code, line.reason);
      } catch (error) {
        say(`/close: ${(error as Error).message}`);
        return true;
      }
      return false;
  }
}

export interface TerminalConsoleOptions {
  input: Readable;
  output: Writable;
  binary: boolean;
  /** /close was typed: the connection is closing at the user's wish. */
  closing(): void;
  /** Ctrl-C or the end of input: close with 1000. */
  closeNormally(): void;
}

/**
 * The interactive client on a terminal. `show` prints a received line above the prompt without
 * disturbing what is being typed; `end` prints the last line and gives the terminal back.
 */
export class TerminalConsole {
  readonly #lines: Interface;
  readonly #output: Writable;
  #ended = false;

  constructor(socket: WebSocket, options: TerminalConsoleOptions) {
    this.#output = options.output;
    this.#lines = createInterface({ input: options.input, output: options.output, terminal: true, prompt: '> ', historySize: 500 });
    this.#lines.on('line', (text) => {
      if (!runConsoleLine(socket, parseConsoleLine(text), options.binary, (line) => this.show(line))) options.closing();
      else this.#lines.prompt();
    });
    // Ctrl-C in raw mode arrives here, not as a process signal: close as wscat does.
    this.#lines.on('SIGINT', () => options.closeNormally());
    this.#lines.on('close', () => {
      if (!this.#ended) options.closeNormally();
    });
  }

  banner(url: string, subprotocol: string): void {
    this.#output.write(`Connected to ${url}${subprotocol === '' ? '' : ` (subprotocol ${subprotocol})`}.\n`);
    this.#output.write('Type a message and press Enter to send it; /help for commands; Ctrl-C closes.\n');
    this.#lines.prompt();
  }

  show(line: string): void {
    clearLine(this.#output, 0);
    cursorTo(this.#output, 0);
    this.#output.write(`${line}\n`);
    if (!this.#ended) this.#lines.prompt(true);
  }

  end(line: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.show(line);
    this.#lines.close();
  }
}
