import { decompress } from "fzstd";
import { bad } from "./errors.js";

const MAX_DECODED = 12 << 20;
const ZSTD_MAGIC = 0xfd2fb528;

/** The frame content size from a zstd frame header, or -1 when the header omits it. */
function frameContentSize(src: Uint8Array): number {
  if (src.length < 6) throw bad("zstd", "frame header truncated");
  const magic = (src[0]! | (src[1]! << 8) | (src[2]! << 16) | (src[3]! << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) throw bad("zstd", "bad frame magic");
  const fhd = src[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const dictFlag = fhd & 3;
  let p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (size === 0) return -1;
  if (p + size > src.length) throw bad("zstd", "frame header truncated");
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + src[p + i]!;
  if (size === 2) v += 256;
  return v;
}

/**
 * One zstd frame per pcluster. The pure-JS decoder (fzstd) is used because Node 20's
 * zlib has no zstd; the frame's declared size is checked against the pcluster limit
 * before anything is allocated.
 */
export function decodeZstd(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  const declared = frameContentSize(src);
  if (declared > MAX_DECODED) throw bad("zstd", `frame declares ${declared} bytes`);
  let decoded: Uint8Array;
  try {
    decoded = declared === out.length && !partial ? decompress(src, out) : decompress(src, declared >= 0 ? new Uint8Array(declared) : undefined);
  } catch (e) {
    throw bad("zstd", (e as Error).message);
  }
  if (decoded.length < out.length) throw bad("zstd", `frame ends after ${decoded.length} of ${out.length} bytes`);
  if (!partial && decoded.length !== out.length) throw bad("zstd", "frame longer than its extent");
  if (decoded !== out && decoded.buffer !== out.buffer) out.set(decoded.subarray(0, out.length));
}
