import * as zlib from "node:zlib";

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
 * Driven as deflate.ts drives raw inflate: one stream kept and reset per frame, and its
 * native handle's writeSync(flush, in, inOff, inLen, out, outOff, outLen) called straight
 * into `out`, with the counts it leaves behind (output space, input left) read from the
 * stream's write state. Not a documented interface, so its shape is checked before use.
 */
interface ZstdHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

interface NativeStream {
  readonly stream: NodeJS.ReadWriteStream & { reset(): void; destroyed: boolean; destroy(): void };
  readonly handle: ZstdHandle;
  /** [output space left, input left] after the last writeSync. */
  readonly state: Uint32Array;
}

type StreamClass = new () => NativeStream["stream"];

/** The decompressing stream class, where this Node's zlib has zstd. */
const ZstdDecompress = (zlib as unknown as { ZstdDecompress?: StreamClass }).ZstdDecompress;
/** ZSTD_e_end: the decoder ignores the flush mode, but the handle wants one. */
const FLUSH_END = (zlib.constants as unknown as { ZSTD_e_end?: number }).ZSTD_e_end ?? 2;

/** The kept stream; null once this Node is known to lack zstd or the expected shape. */
let kept: NativeStream | null | undefined;

function openStream(): NativeStream | null {
  if (!ZstdDecompress) return null;
  const stream = new ZstdDecompress();
  // An error destroys the stream, which emits it later: the decode has reported it by then.
  stream.on("error", () => {});
  const internals = stream as unknown as { _handle?: Partial<ZstdHandle>; _writeState?: unknown };
  const handle = internals._handle;
  const state = internals._writeState;
  if (typeof handle?.writeSync !== "function" || !(state instanceof Uint32Array) || state.length < 2) {
    stream.destroy();
    return null;
  }
  return { stream, handle: handle as ZstdHandle, state };
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
