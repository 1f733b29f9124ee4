/**
 * A request's header fields as one string, `name: value` lines joined by CRLF, the way they
 * travel between the threads and stay on a connection. One string clones and keeps far cheaper
 * than an array of pairs, and most connections never have their headers read again after the
 * upgrade decision; the pairs are made when someone reads them.
 */
import type { HeaderList } from './socket-backend.ts';

/** Header fields as pairs, or as header text (see this file). */
export type RequestHeaders = HeaderList | string;

/**
 * Joined, not concatenated: `join` makes one flat string, where `+=` would keep a tree of a
 * dozen pieces (and the request lines they were cut from) for as long as the connection lives.
 */
export function headerTextOf(fields: HeaderList): string {
  const lines = new Array<string>(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]!;
    lines[i] = `${name}: ${value}`;
  }
  return lines.join('\r\n');
}

/** The pairs of `headers` (a field name has no ':' and a parsed value no CR or LF, so the split is exact). */
export function headerListOf(headers: RequestHeaders): HeaderList {
  if (typeof headers !== 'string') return headers;
  if (headers === '') return [];
  return headers.split('\r\n').map((line) => {
    const colon = line.indexOf(': ');
    return [line.slice(0, colon), line.slice(colon + 2)] as const;
  });
}
