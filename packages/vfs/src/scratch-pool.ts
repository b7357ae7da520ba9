import { BufferPool } from "@erofs-ts/blockdev";

/** Largest scratch buffer, as a power of two: 4 MiB, a batched read of adjacent pclusters. */
const SCRATCH_MAX_SHIFT = 22;
/**
 * Free buffers kept: what one mount reading at full speed cycles through (16 readahead
 * windows of 256 KiB, stored pclusters, fills copied out, extents kept for a next fill),
 * 9-11 MiB measured reading app-a-zstd whole.
 */
const SCRATCH_RETAINED_BYTES = 16 << 20;

let pool: BufferPool | undefined;

/**
 * The process's scratch buffers, shared by all its mounts: buffers that live for one
 * fill, the decoded extents kept for the next, and the image files' readahead windows.
 * A pool per mount was new memory for every mount (each 4 KiB page faulted in on first
 * use, ~11 µs on the benchmark VM: 2-5 thousand faults per mount of app-a-zstd), and a
 * daemon serving N images kept N pools.
 */
export function scratchPool(): BufferPool {
  return (pool ??= new BufferPool({ maxShift: SCRATCH_MAX_SHIFT, retainedBytes: SCRATCH_RETAINED_BYTES }));
}
