import { constants, inflateRawSync } from "node:zlib";
import { bad } from "./errors.js";

/** Largest decoded size of one pcluster (Z_EROFS_PCLUSTER_MAX_DSIZE): bounds zlib's output. */
const MAX_DECODED = 12 << 20;

/**
 * Raw DEFLATE through node:zlib (C speed). Output is capped, so a bomb cannot allocate
 * more than one pcluster may decode to; `partial` keeps the prefix of a longer stream.
 */
export function decodeDeflate(src: Uint8Array, out: Uint8Array, partial: boolean, windowBits = 15): void {
  let decoded: Uint8Array;
  try {
    decoded = inflateRawSync(src, {
      windowBits: Math.max(8, Math.min(15, windowBits || 15)),
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: partial ? MAX_DECODED : Math.max(out.length, 1),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE") throw bad("deflate", "stream decodes to more than its extent");
    throw bad("deflate", (e as Error).message);
  }
  if (decoded.length < out.length) throw bad("deflate", `stream ends after ${decoded.length} of ${out.length} bytes`);
  if (!partial && decoded.length !== out.length) throw bad("deflate", "stream longer than its extent");
  out.set(decoded.subarray(0, out.length));
}
