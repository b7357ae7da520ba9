import { FileSource, MemorySource, OffsetSource, ReadaheadSource, type BlockSource, type FileSourceOptions } from "@erofs-ts/blockdev";
import {
  DEVICE_SLOT_SIZE,
  ErofsError,
  INCOMPAT,
  superblockChecksumEnd,
  COMPRESSION,
  deviceIdMask,
  parseDeviceSlot,
  parseComposefsHeader,
  parseSuperblock,
  type DeviceSlot,
  type Inode,
  type Superblock,
} from "@erofs-ts/format";
import { hasNativeZstd, zstdReady } from "@erofs-ts/decompress";
import { PageCache } from "@erofs-ts/ishare-cache";
import { CompressedState } from "./compressed.js";
import { FingerprintIndex } from "./fingerprint-index.js";
import { FlatDeviceSource } from "./flat-device.js";
import type { MountContext } from "./context.js";
import { ErofsFs } from "./filesystem.js";
import { MetaBlockReader, readSuperblockRegion } from "./meta-reader.js";
import { iget } from "./metadata.js";
import { parseMountOptions } from "./options.js";
import { scratchPool } from "./scratch-pool.js";

export interface MountOptions {
  /** Extra devices in device-table order (paths or sources): the kernel's `device=`. */
  devices?: readonly (string | BlockSource)[];
  /** Byte offset of the filesystem inside the primary source: the kernel's `fsoffset=`. */
  fsoffset?: number;
  /** A page cache to share with other mounts; by default each mount gets its own. */
  cache?: PageCache;
  /** Budget of a mount's own page cache (default 64 MiB). */
  cacheBytes?: number;
  /** Budget of the metadata block cache (default 8 MiB). */
  metadataCacheBytes?: number;
  /**
   * Most inodes kept parsed (default 65536). Each costs ~400 bytes of JavaScript heap
   * (measured on an image of 100,000 files: 26.7 MB for 65536); one not kept is parsed
   * again from the metadata blocks when next asked for.
   */
  inodeCacheEntries?: number;
  /**
   * Most entries `readdir()` returns at once (default 4,194,304, about a gigabyte of
   * JavaScript objects); a larger directory is refused with ENOMEM there, while
   * `entries()` and `readdirFrom()` list any directory in parts.
   */
  maxListedEntries?: number;
  /**
   * Budget of the packed inode's (fragments') decoded pages (default 16 MiB), or a
   * function of the superblock giving it (say, by what decoding the image takes).
   */
  packedCacheBytes?: number | ((sb: Superblock) => number);
  /**
   * Budget of recently decoded zstd and deflate extents, kept for the page two extents
   * share (default 32 MiB; the latest extent is always kept, whatever its size). Other
   * codecs decode only the prefix such a page needs and keep nothing here.
   */
  decodedExtentBytes?: number;
  /**
   * The kernel's `inode_share`: regular files with equal fingerprints (and sizes) in the
   * same domain share one set of pages in `cache`. Needs the ishare_xattrs feature.
   */
  inodeShare?: boolean;
  /**
   * The kernel's `user_xattr` (default) / `nouser_xattr`: with false, user.* attributes
   * are not listed and getxattr of one fails EOPNOTSUPP. Fingerprints (inode_share) are
   * still read: the kernel reads them past the namespace handlers.
   */
  userXattr?: boolean;
  /**
   * The kernel's `acl` (default) / `noacl`: with false, the POSIX ACL attributes are not
   * listed and getxattr of one fails EOPNOTSUPP (so nothing applies them either).
   */
  acl?: boolean;
  /** The kernel's `domain_id`: only mounts with the same domain share. A secret: never printed. */
  domainId?: string;
  /**
   * Fingerprints for an image without fingerprint xattrs (`erofs-cli fingerprints`): a
   * path to the index or a loaded one. With inodeShare, its files share like fingerprinted ones.
   */
  fingerprints?: string | FingerprintIndex;
  /**
   * Hooks on the image and device files opened from paths (blockdev's FileSourceOptions):
   * the FUSE daemon uses them to drop what it has read from the OS page cache, as its own
   * caches and the kernel's cache of the mounted files hold the decoded bytes already.
   */
  fileHooks?: FileSourceOptions;
  /**
   * Read the image and device files (opened from paths) on the calling thread, not the
   * thread pool (blockdev's FileSourceOptions.syncReads): faster for a reader doing one
   * thing at a time, as erofs-cli does; a server of concurrent requests should not.
   */
  syncReads?: boolean;
}

const DEFAULT_CACHE_BYTES = 64 << 20;
const DEFAULT_META_CACHE_BYTES = 8 << 20;
const DEFAULT_INODE_CACHE_ENTRIES = 65536;
/** readdir()'s limit (MountOptions.maxListedEntries): ~4 million entries, about a gigabyte of JavaScript objects. */
const DEFAULT_MAX_LISTED_ENTRIES = 1 << 22;
/** The packed inode's decoded pages: enough for a walk's working set of fragments. */
const PACKED_CACHE_BYTES = 16 << 20;
/** Recently decoded extents kept for the pages two extents share (at least two 12 MiB maxima). */
const DECODED_EXTENT_BUDGET = 32 << 20;
let nextMountId = 1;

/**
 * Mounts an EROFS image: a path, a BlockSource or the image bytes, with options as an
 * object or as a kernel-style string ("device=blob,fsoffset=65536").
 */
export async function mount(source: string | BlockSource | Uint8Array, options: MountOptions | string = {}): Promise<ErofsFs> {
  const opts = typeof options === "string" ? fromText(options) : options;
  // Checked before the image is opened: a bad option needs no I/O to be refused.
  const inodeCacheEntries = positiveCount(opts.inodeCacheEntries, DEFAULT_INODE_CACHE_ENTRIES, "inodeCacheEntries");
  const maxListedEntries = positiveCount(opts.maxListedEntries, DEFAULT_MAX_LISTED_ENTRIES, "maxListedEntries");
  const opened: BlockSource[] = [];
  try {
    const fileOptions: FileSourceOptions = { ...opts.fileHooks, syncReads: opts.syncReads ?? opts.fileHooks?.syncReads };
    const image = await openImage(source, fileOptions);
    opened.push(image.data);
    if (image.meta !== image.data) opened.push(image.meta);
    const primary = opts.fsoffset ? new OffsetSource(image.data, opts.fsoffset) : image.data;
    const metaPrimary = opts.fsoffset ? new OffsetSource(image.meta, opts.fsoffset) : image.meta;
    const head = await readSuperblockRegion(metaPrimary);
    const sb = parseSuperblock(head.bytes);
    // The kernel's rule, once it knows the block size: a filesystem starts on a block boundary.
    if (opts.fsoffset && opts.fsoffset % sb.blockSize !== 0) {
      throw new ErofsError("EINVAL", `fsoffset ${opts.fsoffset} is not aligned to block size ${sb.blockSize}`, "fsoffset");
    }

    const meta = new MetaBlockReader(metaPrimary, sb.blockSize, opts.metadataCacheBytes ?? DEFAULT_META_CACHE_BYTES);
    const slots: DeviceSlot[] = [];
    const slotBase = sb.devtSlotOff * DEVICE_SLOT_SIZE;
    for (let i = 0; i < sb.extraDevices; i++) {
      // Read as metadata: past the image's end a slot is zeros (a device of no blocks at
      // address 0), as on a kernel mount, which mounts such an image.
      const bytes = await meta.read(slotBase + i * DEVICE_SLOT_SIZE, DEVICE_SLOT_SIZE);
      slots.push(parseDeviceSlot(bytes, (sb.featureIncompat & INCOMPAT.BIT48) !== 0, i));
    }
    const given = opts.devices ?? [];
    if (given.length !== sb.extraDevices && given.length > 0) {
      throw new ErofsError("EINVAL", `image has ${sb.extraDevices} extra devices, ${given.length} given`, "device");
    }
    const extra: BlockSource[] = [];
    // Without device=, the kernel mounts an image with extra devices "flat": each device's
    // blocks are read from the image itself, at the device's unified address.
    const flatDevices = given.length === 0 && sb.extraDevices > 0;
    if (flatDevices) slots.forEach((slot, i) => extra.push(new FlatDeviceSource(primary, slot.uniaddr * sb.blockSize, i)));
    for (const d of given) {
      const s = await openSource(d, fileOptions);
      opened.push(s);
      extra.push(s);
    }

    // Where this Node's zlib has no zstd, the decoder is WebAssembly instantiated on first
    // use (~26 ms here): an image that may hold zstd pclusters starts it now, compiled in
    // the background while the mount goes on, so that its first read does not wait for all
    // of it. With node:zlib's zstd it loads only if a frame needs it (a corrupt one).
    if (sb.compression.availableAlgorithms & (1 << COMPRESSION.ZSTD) && !hasNativeZstd()) void zstdReady();
    const id = nextMountId++;
    const cache = opts.cache ?? new PageCache({ budgetBytes: opts.cacheBytes ?? DEFAULT_CACHE_BYTES });
    // Each inode's private owner key, made once: every read asks for its owner. Keys start
    // with a prefix no other mount's keys (nor the sharing registry's) start with.
    const ownerPrefix = `mount${id}:`;
    let ownerKeys = new WeakMap<Inode, string>();
    const ctx: MountContext = {
      id,
      sb,
      composefs: parseComposefsHeader(head.bytes),
      primary,
      fsoffset: opts.fsoffset ?? 0,
      extra,
      flatDevices,
      slots,
      deviceMask: deviceIdMask(sb.extraDevices),
      meta,
      cache,
      packedCache: new PageCache({ budgetBytes: typeof opts.packedCacheBytes === "function" ? opts.packedCacheBytes(sb) : (opts.packedCacheBytes ?? PACKED_CACHE_BYTES) }),
      inodes: new Map(),
      inodeCacheEntries,
      maxListedEntries,
      xattrNamespaces: { userXattr: opts.userXattr ?? true, acl: opts.acl ?? true },
      dirBlocks: new Map(),
      listingChecks: new Map(),
      metabox: null,
      packed: null,
      compressed: new CompressedState(opts.decodedExtentBytes ?? DECODED_EXTENT_BUDGET),
      scratch: scratchPool(),
      sharing: null,
      privateOwnerPrefix: ownerPrefix,
      ownerOf(inode) {
        const shared = ctx.sharing?.ownerOf(inode);
        if (shared) return shared;
        let key = ownerKeys.get(inode);
        if (key === undefined) ownerKeys.set(inode, (key = ownerPrefix + inode.nid));
        return cache.owner(key);
      },
      forgetInodes() {
        ctx.inodes.clear();
        // A new memo rather than the old one emptied: a WeakMap's table keeps the size its
        // dead entries grew it to (~390 KB after app-b's 7,474 inodes).
        ownerKeys = new WeakMap();
      },
    };
    // A cut image's superblock block read zeros past its end (readSuperblockRegion).
    if (head.end < superblockChecksumEnd(sb.blockSize)) ctx.meta.countPastEnd();
    if (sb.featureIncompat & INCOMPAT.METABOX) {
      ctx.metabox = await iget(ctx, sb.metaboxNid);
    }
    // As the kernel's mount: an image with fragments has its packed inode read now, and
    // one that cannot be read (a bogus mode, say) refuses the mount.
    if (sb.featureIncompat & INCOMPAT.FRAGMENTS && sb.packedNid) ctx.packed = await iget(ctx, sb.packedNid);
    const fs = new ErofsFs(ctx, opened);
    const fingerprints = typeof opts.fingerprints === "string" ? await FingerprintIndex.load(opts.fingerprints) : opts.fingerprints;
    await fs.init({ inodeShare: opts.inodeShare ?? false, domainId: opts.domainId, fingerprints });
    return fs;
  } catch (e) {
    await Promise.allSettled(opened.map((s) => s.close()));
    throw e;
  }
}

function fromText(text: string): MountOptions {
  const p = parseMountOptions(text);
  return {
    devices: p.devices,
    fsoffset: p.fsoffset,
    inodeShare: p.inodeShare,
    userXattr: p.userXattr,
    acl: p.acl,
    ...(p.domainId !== undefined ? { domainId: p.domainId } : {}),
    ...(p.fingerprints !== undefined ? { fingerprints: p.fingerprints } : {}),
  };
}

/**
 * Metadata's readahead when the image is read synchronously (syncReads): 32 KiB windows,
 * nothing fetched ahead. Inodes and directory blocks lie between file data, so file data's
 * 256 KiB windows, and the 1 MiB fetched after them, read mostly file data around each
 * inode: a walk of app-a-plain read 28.8 MB of the image for 4.7 MB of metadata blocks and
 * directory pages, app-a-lz4 16.8 MB for 3.7 MB; with these windows 7.6 and 6.6 MB.
 * Measured in one process, each cold run against one with the shared windows in turn (21
 * pairs): app-a-plain read whole took 9-12% less time and walked 40% less; app-a's
 * compressed images and mkfs.erofs 1.5's lz4 image moved within this VM's ±5%, as did a
 * walk of wide-plain, whose metadata is dense. 16 KiB did as well on app-a-plain and
 * worse on wide-plain's walk (+3-6%); 64 KiB gained less on app-a-plain.
 * Reads through the thread pool keep the shared windows: each read there costs a round
 * trip, and fewer, larger ones measured faster through erofs-fuse.
 */
const SYNC_META_READAHEAD = { windowBytes: 32 << 10, ahead: 0 } as const;

/**
 * The image's source for file data and the one for metadata: the same but for an image
 * file read synchronously, where both read one open file through readahead windows of
 * their own (see SYNC_META_READAHEAD).
 */
async function openImage(source: string | BlockSource | Uint8Array, fileOptions: FileSourceOptions): Promise<{ data: BlockSource; meta: BlockSource }> {
  if (typeof source !== "string") {
    const data = await openSource(source, fileOptions);
    return { data, meta: data };
  }
  const file = await FileSource.open(source, fileOptions);
  const data = withReadahead(file);
  return { data, meta: fileOptions.syncReads ? new ReadaheadSource(file, SYNC_META_READAHEAD) : data };
}

/** File data's readahead over an opened file: the defaults, window buffers from the shared pool. */
function withReadahead(file: FileSource): ReadaheadSource {
  return new ReadaheadSource(file, { buffers: scratchPool() });
}

async function openSource(source: string | BlockSource | Uint8Array, fileOptions: FileSourceOptions): Promise<BlockSource> {
  // Files are read through readahead windows: most of a walk's reads are small and close
  // together, and each async read costs a thread-pool round trip (see ReadaheadSource).
  if (typeof source === "string") return withReadahead(await FileSource.open(source, fileOptions));
  if (source instanceof Uint8Array) return new MemorySource(source);
  return source;
}

/** A count option: its default when absent, else a positive integer or EINVAL naming it. */
function positiveCount(n: number | undefined, fallback: number, name: string): number {
  if (n === undefined) return fallback;
  if (!Number.isSafeInteger(n) || n < 1) throw new ErofsError("EINVAL", `${name} must be a positive integer, got ${n}`, name);
  return n;
}
