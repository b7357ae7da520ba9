import { decompress } from "fzstd";
import { ZSTDDecoder } from "zstddec";
import { unsupported } from "@erofs-ts/format";
import { bad } from "./errors.js";
import type { WasmMemory } from "./wasm-module.js";

/**
 * The reference zstd library compiled to WebAssembly (zstddec): several times faster than
 * fzstd, whose frame setup allocates a zeroed window per frame. Its instantiation is
 * asynchronous and costs ~6 MB of memory, so it starts on the first zstd frame (or
 * zstdReady()), not when this module loads: most images never use zstd. decodeZstd uses
 * fzstd until it is ready (or everywhere, where there is no WebAssembly).
 *
 * zstddec's own decode() returns a new array per frame (a copy out of its memory), which
 * we then copied into the output again: a fresh allocation per pcluster, and on the VM
 * the benchmarks run on each of its pages costs a fault of ~11 µs. So the instance is
 * taken when zstddec instantiates it (its public `_init` hook) and its exports are called
 * directly, the result copied once, straight into the output.
 */
interface ZstdExports {
  readonly memory: WasmMemory;
  malloc(size: number): number;
  free(ptr: number): void;
  ZSTD_decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
  ZSTD_isError(code: number): number;
}

let wasm: ZstdExports | undefined;
let loading: Promise<void> | undefined;

class InstanceTakingDecoder extends ZSTDDecoder {
  override _init(result: Parameters<ZSTDDecoder["_init"]>[0]): void {
    // zstddec's own state too: its memory-growth hook refers to it.
    ZSTDDecoder.prototype._init.call(this, result);
    wasm = (result as { instance: { exports: unknown } }).instance.exports as ZstdExports;
  }
}

/**
 * zstddec instantiates its module from a `data:` URL through fetch() wherever fetch
 * exists, else from a Buffer. In Node the first fetch() loads the whole HTTP client
 * (undici): measured here, ~19 ms of the main thread at the first zstd mount, and its
 * modules stay in the heap for good. So where Buffer exists, fetch is hidden while
 * init() picks its way; it only reads `typeof fetch` synchronously, and the global is put
 * back before anything else can run.
 */
function initWithoutFetch(decoder: ZSTDDecoder): Promise<void> {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "fetch");
  const hasBuffer = typeof (globalThis as { Buffer?: unknown }).Buffer === "function";
  if (!saved?.configurable || !hasBuffer) return decoder.init();
  Object.defineProperty(globalThis, "fetch", { value: undefined, configurable: true, writable: true });
  try {
    return decoder.init();
  } finally {
    Object.defineProperty(globalThis, "fetch", saved);
  }
}

function startLoading(): Promise<void> {
  if (!loading) {
    loading = initWithoutFetch(new InstanceTakingDecoder()).then(
      () => undefined,
      () => void (wasm = undefined), // no WebAssembly here: fzstd does all the work
    );
  }
  return loading;
}

/** Starts the fast decoder if needed; resolves once it is ready (or known to be unavailable). */
export async function zstdReady(): Promise<boolean> {
  await startLoading();
  return wasm !== undefined;
}

/**
 * A block of the WebAssembly heap kept from frame to frame and only ever grown: a
 * malloc/free pair per pcluster cost 1-3% of a zstd image's decode. The heap never shrinks
 * anyway, so keeping the block holds no memory that freeing it would have returned.
 */
class HeapBlock {
  ptr = 0;
  size = 0;

  /** The block's address with room for `bytes`, or 0 when the heap cannot grow to it. */
  reserve(ex: ZstdExports, bytes: number): number {
    if (bytes <= this.size) return this.ptr;
    if (this.ptr) ex.free(this.ptr);
    this.ptr = ex.malloc(bytes);
    this.size = this.ptr ? bytes : 0;
    return this.ptr;
  }
}

const srcBlock = new HeapBlock();
const dstBlock = new HeapBlock();

/**
 * Decodes a frame with the WebAssembly library into at most `capacity` bytes and copies
 * the first out.length of them into `out`; returns how many it decoded.
 */
function decodeWasm(ex: ZstdExports, src: Uint8Array, capacity: number, out: Uint8Array): number {
  const srcPtr = srcBlock.reserve(ex, src.length);
  const dstPtr = srcPtr ? dstBlock.reserve(ex, capacity) : 0;
  if (!srcPtr || !dstPtr) throw bad("zstd", `no memory for a frame of ${capacity} bytes`);
  // The memory's buffer changes when it grows (malloc above may have grown it).
  new Uint8Array(ex.memory.buffer, srcPtr, src.length).set(src);
  const n = ex.ZSTD_decompress(dstPtr, capacity, srcPtr, src.length);
  if (ex.ZSTD_isError(n)) throw bad("zstd", "corrupt frame");
  out.set(new Uint8Array(ex.memory.buffer, dstPtr, Math.min(n, out.length)));
  return n;
}

const MAX_DECODED = 12 << 20;
const ZSTD_MAGIC = 0xfd2fb528;

interface FrameHeader {
  /** The declared content size, or -1 when the header omits it. */
  readonly contentSize: number;
  /** Header bytes, magic included: where the first block header starts. */
  readonly length: number;
  readonly hasChecksum: boolean;
}

/** The header of the zstd frame at the start of `src` (RFC 8878, 3.1.1). */
function frameHeader(src: Uint8Array): FrameHeader {
  if (src.length < 6) throw bad("zstd", "frame header truncated");
  const magic = (src[0]! | (src[1]! << 8) | (src[2]! << 16) | (src[3]! << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) throw bad("zstd", "bad frame magic");
  const fhd = src[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const dictFlag = fhd & 3;
  const p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const hasChecksum = (fhd & 4) !== 0;
  if (p + size > src.length) throw bad("zstd", "frame header truncated");
  if (size === 0) return { contentSize: -1, length: p, hasChecksum };
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + src[p + i]!;
  if (size === 2) v += 256;
  return { contentSize: v, length: p + size, hasChecksum };
}

/**
 * Bytes of the frame at the start of `src`, found by walking its block headers (3 bytes
 * each: last-block bit, type, size; an RLE block stores one byte), plus the checksum; or
 * src.length when the blocks run past the end (the decoder then reports the truncation).
 */
function frameLength(src: Uint8Array, header: FrameHeader): number {
  let pos = header.length;
  // Each block moves pos on by at least 3 bytes: the walk ends within src.length / 3 steps.
  while (pos + 3 <= src.length) {
    const bh = src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16);
    const type = (bh >>> 1) & 3;
    pos += 3 + (type === 1 ? 1 : bh >>> 3);
    if (bh & 1) {
      const end = pos + (header.hasChecksum ? 4 : 0);
      return Math.min(end, src.length);
    }
  }
  return src.length;
}

/**
 * One zstd frame per pcluster. Node 20's zlib has no zstd; the frame's declared size is
 * checked against the pcluster limit before anything is allocated. A frame without a
 * declared size (mkfs.erofs always writes it) is decoded into a buffer as large as the
 * output may need (the extent, or the pcluster limit for a prefix), and only by zstddec:
 * fzstd, given no buffer, allocates the header's window (up to 2 GiB) and moves all of it
 * per block, which took minutes on a corrupt frame.
 */
export function decodeZstd(input: Uint8Array, out: Uint8Array, partial: boolean): void {
  if (!wasm) void startLoading();
  const header = frameHeader(input);
  const declared = header.contentSize;
  // Only the first frame counts, whatever follows it: the kernel's stream decoder stops at
  // its end. mkfs.erofs 1.9 leaves zeros after some frames (a pcluster not filled from
  // its end), which the one-shot decoders would read as a second, corrupt frame.
  const src = input.subarray(0, frameLength(input, header));
  if (declared > MAX_DECODED) throw bad("zstd", `frame declares ${declared} bytes`);
  if (declared >= 0) {
    if (declared < out.length) throw bad("zstd", `frame declares ${declared} of ${out.length} bytes`);
    if (!partial && declared !== out.length) throw bad("zstd", "frame longer than its extent");
  }
  const capacity = declared >= 0 ? declared : partial ? MAX_DECODED : out.length;
  if (wasm) {
    // A capacity of at least 1: 0 would make the frame's own size the limit.
    const decoded = decodeWasm(wasm, src, Math.max(capacity, 1), out);
    if (declared >= 0 && decoded !== declared) throw bad("zstd", "corrupt frame");
    if (decoded < out.length) throw bad("zstd", `corrupt frame, or it ends after ${decoded} of ${out.length} bytes`);
    if (!partial && decoded !== out.length) throw bad("zstd", "frame longer than its extent");
    return;
  }
  if (declared < 0) throw unsupported("zstd frame without a content size (needs WebAssembly)", "zstd pcluster");
  let decoded: Uint8Array;
  try {
    // fzstd sizes its own buffer from the declared size (checked above). Given ours
    // instead, it ran ~20x slower (9 against 195 MB/s on a 128 KiB pcluster), so it
    // decodes into its own and the bytes are copied.
    decoded = decompress(src);
  } catch (e) {
    throw bad("zstd", (e as Error).message);
  }
  // The declared size was checked against out.length and `partial` above: equal to it,
  // the output is as long as it must be.
  if (decoded.length !== declared) throw bad("zstd", `frame of ${declared} bytes decodes to ${decoded.length}`);
  out.set(decoded.subarray(0, out.length));
}
