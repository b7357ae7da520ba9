import { holdingEventLoop } from "@erofs-ts/format";
import xxhash from "xxhash-wasm";

/** EROFS_XATTR_FILTER_SEED: the seed of the name filter's xxh32, plus the namespace index. */
export const XATTR_FILTER_SEED = 0x25bbe08f;
export const XATTR_FILTER_BITS = 32;

export type Hash32 = (bytes: Uint8Array, seed: number) => number;

/** xxh32 from xxhash-wasm (its WebAssembly module loads asynchronously, once). */
export async function loadXattrHasher(): Promise<Hash32> {
  const { h32Raw } = await holdingEventLoop(xxhash());
  return (bytes, seed) => h32Raw(bytes, seed >>> 0);
}

/**
 * The name filter's verdict: true means the inode certainly has no attribute with this
 * namespace index and name (the bit for its hash is set), so no search is needed.
 */
export function filterExcludes(nameFilter: number, index: number, suffix: Uint8Array, hash32: Hash32): boolean {
  const bit = hash32(suffix, (XATTR_FILTER_SEED + index) >>> 0) & (XATTR_FILTER_BITS - 1);
  return ((nameFilter >>> bit) & 1) === 1;
}
