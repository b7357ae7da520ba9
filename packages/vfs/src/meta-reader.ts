import { EROFS_SUPERBLOCK_BASE_SIZE, EROFS_SUPER_OFFSET, ErofsError, SUPERBLOCK_READ_SIZE, type MetaSpan } from "@erofs-ts/format";
import { readBytes, type BlockSource } from "@erofs-ts/blockdev";
import { PageCache, type CacheOwner } from "@erofs-ts/ishare-cache";

/** A loop device holds whole sectors of its file. */
const SECTOR_SIZE = 512;

/** The bytes of `source` a loop device of it holds: its whole sectors. */
function deviceSize(source: BlockSource): number {
  return source.size - (source.size % SECTOR_SIZE);
}

/**
 * The image's first SUPERBLOCK_READ_SIZE bytes as the kernel reads its superblock and the
 * block the checksum covers: through the block device's page cache, zeros past the
 * device's end. `end` is where the device ends (SUPERBLOCK_READ_SIZE or less). A device
 * too short to hold a superblock is returned as the loop device holds it (an image of
 * 1,315 bytes is a device of 1,024: no superblock at all), for parseSuperblock to refuse
 * it as the kernel's mount does (EINVAL).
 */
export async function readSuperblockRegion(source: BlockSource): Promise<{ bytes: Uint8Array; end: number }> {
  const end = Math.min(deviceSize(source), SUPERBLOCK_READ_SIZE);
  if (end < EROFS_SUPER_OFFSET + EROFS_SUPERBLOCK_BASE_SIZE) return { bytes: await readBytes(source, 0, end), end };
  const bytes = new Uint8Array(SUPERBLOCK_READ_SIZE);
  await source.read(bytes.subarray(0, end), 0);
  return { bytes, end };
}

/**
 * Reads metadata (inodes, dirents of inline dirs, xattrs, chunk tables) from the primary
 * device in whole blocks kept in a budgeted LRU cache, so walking a directory does not
 * re-read the same inode block per entry. Concurrent misses on one block share one read.
 *
 * Past the device's end it reads zeros, as the kernel's metadata reads do: they go
 * through the block device's page cache, which zero-fills blocks past the device. The
 * device is the image as a loop device shows it: its whole 512-byte sectors. Such reads
 * are counted (pastEnd), for fsck to report.
 */
export class MetaBlockReader {
  readonly #source: BlockSource;
  readonly #blockSize: number;
  readonly #cache: PageCache;
  readonly #owner: CacheOwner;
  readonly #inflight = new Map<number, Promise<Uint8Array>>();
  /** The bytes a loop device of the image holds: its whole sectors. */
  readonly #size: number;
  #pastEnd = 0;

  constructor(source: BlockSource, blockSize: number, budgetBytes: number) {
    this.#source = source;
    this.#blockSize = blockSize;
    this.#size = deviceSize(source);
    // Without slabs: callers hold views of cached blocks across awaits, during which a
    // slab's frame could be given to another block.
    this.#cache = new PageCache({ budgetBytes, slabs: false });
    this.#owner = this.#cache.owner("meta");
  }

  /**
   * `length` bytes at byte `offset` of the primary device; a view when inside one block.
   * Not an async function: a read from a cached block (most of them: every inode, map
   * and xattr lookup comes here) returns without an async frame or a suspension.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(offset + length)) {
      return Promise.reject(new ErofsError("EFSCORRUPTED", `metadata at ${offset}+${length} beyond any image`, this.#source.name));
    }
    if (offset + length > this.#size) return this.#readPastEnd(offset, length);
    const bs = this.#blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    if (length === 0) return Promise.resolve(new Uint8Array(0));
    if (first === last) {
      const at = offset - first * bs;
      const hit = this.#cache.get(this.#owner, first);
      if (hit) return Promise.resolve(hit.subarray(at, at + length));
      return this.#fetch(first).then((block) => block.subarray(at, at + length));
    }
    return this.#readSpanning(offset, length, first, last);
  }

  /**
   * The cached block holding [offset, offset + length) as `into`, without a read: true,
   * or false (and `into` untouched) when the bytes span blocks or the block is not cached.
   */
  peek(offset: number, length: number, into: MetaSpan): boolean {
    const bs = this.#blockSize;
    const first = Math.floor(offset / bs);
    if (offset < 0 || length <= 0 || Math.floor((offset + length - 1) / bs) !== first) return false;
    const block = this.#cache.get(this.#owner, first);
    if (!block || offset + length > first * bs + block.length) return false;
    into.bytes = block;
    into.start = first * bs;
    return true;
  }

  /** Where the device ends (its whole sectors): reads past it give zeros. */
  get deviceSize(): number {
    return this.#size;
  }

  /** Metadata reads reaching past the device's end so far (each read as zeros there). */
  get pastEnd(): number {
    return this.#pastEnd;
  }

  /** Counts a read that reached past the end before this reader existed (the superblock's). */
  countPastEnd(): void {
    this.#pastEnd++;
  }

  async #readPastEnd(offset: number, length: number): Promise<Uint8Array> {
    this.#pastEnd++;
    const out = new Uint8Array(length);
    if (offset < this.#size) out.set(await this.read(offset, this.#size - offset));
    return out;
  }

  async #readSpanning(offset: number, length: number, first: number, last: number): Promise<Uint8Array> {
    const bs = this.#blockSize;
    const out = new Uint8Array(length);
    for (let b = first; b <= last; b++) {
      const block = await this.#block(b);
      const start = Math.max(offset, b * bs);
      const end = Math.min(offset + length, b * bs + block.length);
      out.set(block.subarray(start - b * bs, end - b * bs), start - offset);
    }
    return out;
  }

  #block(index: number): Promise<Uint8Array> {
    const hit = this.#cache.get(this.#owner, index);
    return hit ? Promise.resolve(hit) : this.#fetch(index);
  }

  /** A block not in the cache: read once, however many ask for it meanwhile. */
  #fetch(index: number): Promise<Uint8Array> {
    let p = this.#inflight.get(index);
    if (!p) {
      p = this.#load(index).finally(() => this.#inflight.delete(index));
      this.#inflight.set(index, p);
    }
    return p;
  }

  async #load(index: number): Promise<Uint8Array> {
    const start = index * this.#blockSize;
    // The last block of a device may be partial (an fsoffset window, a tar); keep what exists.
    const len = Math.min(this.#blockSize, this.#size - start);
    const block = new Uint8Array(len);
    await this.#source.read(block, start);
    this.#cache.put(this.#owner, index, block);
    return block;
  }

  stats() {
    return this.#cache.stats();
  }
}
