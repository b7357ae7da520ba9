import { constants, inflateRawSync } from "node:zlib";
import { bad } from "./errors.js";

/** Largest decoded size of one pcluster (Z_EROFS_PCLUSTER_MAX_DSIZE): bounds zlib's output. */
const MAX_DECODED = 12 << 20;

/**
 * Raw DEFLATE through node:zlib (C speed). Output is capped, so a bomb cannot allocate
 * more than one pcluster may decode to; `partial` keeps the prefix of a longer stream.
 * The window is always 32 KiB, whatever the superblock's window bits say: the kernel's
 * zlib cannot use a smaller one, so it reads every stream a 32 KiB window can, and so must
 * we (the superblock's value only limits what mkfs may have written).
 */
export function decodeDeflate(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  let decoded: Uint8Array;
  try {
    decoded = inflateRawSync(src, {
      windowBits: 15,
      finishFlush: constants.Z_SYNC_FLUSH,
      // One output chunk as large as the extent: zlib's default 16 KiB chunks would be
      // joined into a new buffer afterwards (a copy of every byte, measured ~10% of a read).
      chunkSize: Math.max(constants.Z_MIN_CHUNK, Math.min(out.length + 1, MAX_DECODED)),
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
