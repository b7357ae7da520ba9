/**
 * A copy of bytes [start, end). Not `bytes.slice`: on a Node Buffer (what readFileSync
 * returns, and what callers pass in) slice is a view, so a "copy" written to would write
 * into the caller's image, and one kept would keep all of it alive.
 */
export function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}
