import type { Transform } from "node:stream";
import * as zlib from "node:zlib";
import { drive, type DrivenStream } from "./zlib-handle.js";

/**
 * Zstandard through node:zlib, in the Node versions that have it (22.15 and later; Node
 * 20 has not): the reference library compiled natively, as DESIGN.md asks. On 64 KiB
 * frames of app-a's files it decoded ~1,180 MB/s where zstddec's WebAssembly build
 * decoded ~650, copy out included.
 *
 * It is only a fast path. decodeZstdNative answers true when it decoded the frame into
 * `out` exactly as the WebAssembly decoders would have, and false otherwise (no zstd in
 * this Node, an error, a short or overlong frame): the caller then runs those decoders,
 * whose answer stands, so corrupt frames meet the same errors on every Node.
 *
 * Driven as deflate.ts drives raw inflate (zlib-handle.ts): one stream kept and reset per
 * frame, its handle writing straight into `out`.
 */
type ZstdStream = Transform & { reset(): void };

interface NativeStream extends DrivenStream {
  readonly stream: ZstdStream;
}

type StreamClass = new () => ZstdStream;

/** The decompressing stream class, where this Node's zlib has zstd. */
const ZstdDecompress = (zlib as unknown as { ZstdDecompress?: StreamClass }).ZstdDecompress;
/** ZSTD_e_end: the decoder ignores the flush mode, but the handle wants one. */
const FLUSH_END = (zlib.constants as unknown as { ZSTD_e_end?: number }).ZSTD_e_end ?? 2;

/** The kept stream; null once this Node is known to lack zstd or the expected shape. */
let kept: NativeStream | null | undefined;

function openStream(): NativeStream | null {
  if (!ZstdDecompress) return null;
  const stream = new ZstdDecompress();
  const driven = drive(stream);
  return driven && { stream, ...driven };
}

/** Whether zstd frames can go through node:zlib here. */
export function hasNativeZstd(): boolean {
  if (kept === undefined) kept = openStream();
  return kept !== null;
}

/**
 * Decodes the frame `src` into `out` with one call into the library, which stops once
 * `out` is full. With `whole`, `src` is the entire frame (its blocks walked to the last
 * one) and must decode to exactly out.length bytes, using all of `src`: the library then
 * decodes the frame in one piece and checks its end (declared size, checksum). Without
 * it, `out` is a prefix of the frame, and the blocks past it are not read, as the kernel's
 * stream decoder leaves them. Returns false where the WebAssembly decoders must decide.
 */
export function decodeZstdNative(src: Uint8Array, out: Uint8Array, whole: boolean): boolean {
  if (!hasNativeZstd()) return false;
  const z = kept!;
  z.stream.reset();
  z.handle.writeSync(FLUSH_END, src, 0, src.length, out, 0, out.length);
  if (z.stream.destroyed) {
    // Failed: this stream is closed for good, so the next frame gets a new one.
    kept = undefined;
    return false;
  }
  const decoded = out.length - z.state[0]!;
  const used = src.length - z.state[1]!;
  return decoded === out.length && (!whole || used === src.length);
}
