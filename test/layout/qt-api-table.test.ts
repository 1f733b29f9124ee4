/**
 * The README's tables of Qt's members (section "Qt's API, member by member") against Qt's list
 * and the real exports, so that the table cannot drift from the code: every Qt 6.4 member (and
 * the 6.5/6.6 additions), as read from Qt's headers, has one row; every form named exists; every
 * `no` gives its reason; the counts stated above the tables are the counts of the rows.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import * as wsthreads from '../../src/index.ts';

type Kind = 'constructor' | 'destructor' | 'method' | 'static' | 'slot' | 'signal' | 'enum';

/** Qt's public members, one entry per name and kind (overloads folded), from Qt 6.4.2's headers plus 6.5/6.6. */
const QtMembers: Record<'QWebSocket' | 'QWebSocketServer', string> = {
  QWebSocket: `
    constructor QWebSocket; destructor ~QWebSocket;
    method abort error errorString flush isValid localAddress localPort pauseMode setPauseMode resume peerAddress
      peerName peerPort proxy setProxy setMaskGenerator maskGenerator readBufferSize setReadBufferSize state version
      resourceName requestUrl request handshakeOptions origin subprotocol closeCode closeReason sendTextMessage
      sendBinaryMessage ignoreSslErrors continueInterruptedHandshake setSslConfiguration sslConfiguration bytesToWrite
      setMaxAllowedIncomingFrameSize maxAllowedIncomingFrameSize setMaxAllowedIncomingMessageSize
      maxAllowedIncomingMessageSize setOutgoingFrameSize outgoingFrameSize;
    static maxIncomingMessageSize maxIncomingFrameSize maxOutgoingFrameSize;
    slot close open ping;
    signal aboutToClose connected disconnected stateChanged proxyAuthenticationRequired readChannelFinished
      textFrameReceived binaryFrameReceived textMessageReceived binaryMessageReceived error pong bytesWritten
      peerVerifyError sslErrors preSharedKeyAuthenticationRequired alertSent alertReceived handshakeInterruptedOnError
      errorOccurred authenticationRequired`,
  QWebSocketServer: `
    enum SslMode; constructor QWebSocketServer; destructor ~QWebSocketServer;
    method listen close isListening setMaxPendingConnections maxPendingConnections setHandshakeTimeout
      handshakeTimeout handshakeTimeoutMS serverPort serverAddress serverUrl secureMode setSocketDescriptor
      socketDescriptor setNativeDescriptor nativeDescriptor hasPendingConnections nextPendingConnection error
      errorString pauseAccepting resumeAccepting setServerName serverName setSupportedSubprotocols
      supportedSubprotocols setProxy proxy setSslConfiguration sslConfiguration supportedVersions handleConnection;
    signal acceptError serverError originAuthenticationRequired newConnection peerVerifyError sslErrors
      preSharedKeyAuthenticationRequired alertSent alertReceived handshakeInterruptedOnError closed`,
};

function qtList(spec: string): string[] {
  const keys: string[] = [];
  for (const group of spec.split(';')) {
    const [kind, ...names] = group.trim().split(/\s+/);
    for (const name of names) keys.push(`${kind} ${name}`);
  }
  return keys;
}

interface Row {
  qt: string;
  kind: Kind;
  form: string;
  status: 'yes' | 'partial' | 'no';
  note: string;
}

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const sectionStart = readme.indexOf("## Qt's API, member by member");
const section = readme.slice(sectionStart, readme.indexOf('\n## ', sectionStart + 1));

function rowsOf(className: string): Row[] {
  const start = section.indexOf(`### ${className}\n`);
  if (start === -1) throw new Error(`no table for ${className}`);
  const end = section.indexOf('\n### ', start + 1);
  const rows: Row[] = [];
  for (const line of section.slice(start, end === -1 ? undefined : end).split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (cells.length !== 5) throw new Error(`a row of ${className} needs 5 cells: ${line}`);
    const [qt, kind, form, status, note] = cells as [string, Kind, string, Row['status'], string];
    rows.push({ qt: qt.replace(/`/g, ''), kind, form, status, note });
  }
  return rows;
}

/** Whether the form named in a row (its first code span) exists on the real exports. */
function formExists(form: string, cls: Function): boolean {
  const code = /^`([^`]+)`/.exec(form)?.[1];
  if (code === undefined) return false;
  const exports = wsthreads as Record<string, unknown>;
  let match: RegExpExecArray | null;
  if ((match = /^new (\w+)\(/.exec(code)) !== null) return exports[match[1]!] === cls && typeof cls === 'function';
  if (code === '[Symbol.asyncDispose]()') return typeof cls.prototype[Symbol.asyncDispose] === 'function';
  if ((match = /^(\w+)\.(\w+)\(\)$/.exec(code)) !== null) return exports[match[1]!] === cls && typeof (cls as unknown as Record<string, unknown>)[match[2]!] === 'function';
  if ((match = /^'(\w+)'$/.exec(code)) !== null) return (Object.values(wsthreads.Signal) as string[]).includes(match[1]!);
  if ((match = /^(\w+)\(\)$/.exec(code)) !== null) return typeof cls.prototype[match[1]!] === 'function';
  if (/^[A-Z]\w*$/.test(code)) return exports[code] !== undefined;
  return false;
}

function stated(className: string): { members: number; present: number; partial: number } {
  const match = new RegExp(`\`${className}\` (\\d+) members, (\\d+) present \\((\\d+)(?: of them)? partial\\)`).exec(section);
  if (match === null) throw new Error(`no count stated for ${className}`);
  return { members: Number(match[1]), present: Number(match[2]), partial: Number(match[3]) };
}

for (const [className, cls] of [['QWebSocket', wsthreads.WebSocket], ['QWebSocketServer', wsthreads.WebSocketServer]] as const) {
  test(`${className}: one row per Qt member, no more, no less`, (t) => {
    const keys = rowsOf(className).map((row) => `${row.kind} ${row.qt}`);
    t.deepEqual([...keys].sort(), qtList(QtMembers[className]).sort());
    t.is(new Set(keys).size, keys.length);
  });

  test(`${className}: every form named exists on the exports; every missing member says why`, (t) => {
    for (const row of rowsOf(className)) {
      t.true(['yes', 'partial', 'no'].includes(row.status), `${row.qt}: status ${row.status}`);
      if (row.status === 'no') {
        t.is(row.form, '—', `${row.qt} is marked no but names a form`);
        t.true(row.note.length > 20, `${row.qt}: no reason given`);
      } else {
        t.true(formExists(row.form, cls), `${row.qt}: ${row.form} is not on the exports`);
        if (row.status === 'partial') t.true(row.note.length > 20, `${row.qt}: partial without saying how`);
      }
    }
  });

  test(`${className}: the counts stated above the tables are the rows'`, (t) => {
    const rows = rowsOf(className);
    t.deepEqual(stated(className), {
      members: rows.length,
      present: rows.filter((row) => row.status !== 'no').length,
      partial: rows.filter((row) => row.status === 'partial').length,
    });
  });
}
