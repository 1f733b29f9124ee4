/**
 * Cuts `data` at the given offsets (clamped to its length, deduplicated, in order) into views, so
 * that a parser can be fed the same bytes in any chunking.
 */
export function splitAt<T extends Uint8Array>(data: T, cuts: number[]): T[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), data.length)))].sort((a, b) => a - b);
  const chunks: T[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(data.subarray(start, point) as T);
    start = point;
  }
  chunks.push(data.subarray(start) as T);
  return chunks;
}
