import { bad } from "./errors.js";

/** Matches shorter than this are copied byte by byte; longer ones through copyWithin. */
const SHORT_COPY = 16;

/**
 * Decodes an LZ4 block (no frame) into `out`. With `partial`, decoding stops once `out`
 * is full even if the stream goes on (EROFS decodes prefixes of shared pclusters);
 * without it, the stream must end exactly where `out` does.
 */
export function decodeLz4(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  const srcEnd = src.length;
  const outEnd = out.length;
  let s = 0;
  let d = 0;
  for (;;) {
    if (s >= srcEnd) throw bad("lz4", "input ends inside a sequence");
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= srcEnd) throw bad("lz4", "input ends inside a literal length");
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (lit > 0) {
      if (s + lit > srcEnd) throw bad("lz4", "literals run past the input");
      if (d + lit > outEnd) {
        if (!partial) throw bad("lz4", "literals run past the output");
        out.set(src.subarray(s, s + (outEnd - d)), d);
        return;
      }
      if (lit < SHORT_COPY) {
        for (let i = 0; i < lit; i++) out[d + i] = src[s + i]!;
      } else {
        out.set(src.subarray(s, s + lit), d);
      }
      s += lit;
      d += lit;
    }
    if (s === srcEnd) {
      // The last sequence has literals only.
      if (d !== outEnd) throw bad("lz4", `stream ends after ${d} of ${outEnd} bytes`);
      return;
    }
    if (d === outEnd && partial) return;
    if (s + 2 > srcEnd) throw bad("lz4", "input ends inside a match offset");
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d) throw bad("lz4", `match offset ${offset} at output ${d}`);
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= srcEnd) throw bad("lz4", "input ends inside a match length");
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    if (d + len > outEnd) {
      if (!partial) throw bad("lz4", "match runs past the output");
      len = outEnd - d;
    }
    let from = d - offset;
    if (offset >= len && len >= SHORT_COPY) {
      out.copyWithin(d, from, from + len);
      d += len;
    } else {
      // Overlapping (offset < len) repeats the last `offset` bytes: copy forwards byte by byte.
      const end = d + len;
      while (d < end) out[d++] = out[from++]!;
    }
    if (d === outEnd && partial) return;
  }
}
