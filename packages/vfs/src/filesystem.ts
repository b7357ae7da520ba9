import { Readable } from "node:stream";
import { COMPAT, ErofsError, corrupted, nidToIno, type ComposefsHeader, type DeviceSlot, type Inode, type Superblock } from "@erofs-ts/format";
import type { BlockSource } from "@erofs-ts/blockdev";
import { releaseRecycledSlabs, type CacheStats } from "@erofs-ts/ishare-cache";
import { forgetRecentExtents, type DecodedExtentStats } from "./compressed.js";
import { PACKED_OWNER, type MountContext } from "./context.js";
import { readData, seekData, wholeExtentsEnd } from "./data-path.js";
import { fileExtents, type FileExtent } from "./extent-report.js";
import { dirEndPosition, findDirEntry, lookupsFindListed, readDirEntriesFrom } from "./directory.js";
import type { FingerprintIndex } from "./fingerprint-index.js";
import { expectKind, iget } from "./metadata.js";
import { PATH_MAX, isDot, isDotDot, printable, resolvePath, toPathBytes, type PathWalker } from "./path.js";
import { statOf, type Stat, type StatFs } from "./stat.js";
import { MountSharing, registryFor } from "./sharing.js";
import { XattrAccess } from "./xattrs.js";

/** Entries entries() reads at a time: a few directory blocks' worth. */
const LISTING_PART = 512;

/** One entry of a directory listing. */
export interface DirectoryEntry {
  /** Raw name bytes (may be invalid UTF-8). */
  readonly name: Uint8Array;
  readonly nid: bigint;
  readonly ino: bigint;
  /** The dirent's file type as stored (format's FILE_TYPE, EROFS_FT_*; not DT_*): known without reading the inode. */
  readonly fileType: number;
}

export interface ReadStreamOptions {
  start?: number;
  /** Exclusive end offset. */
  end?: number;
  /**
   * Bytes per chunk at most (default 256 KiB; at most `into.length` with `into`). With
   * `cache: false` a compressed file's chunks end where an extent starts: often fewer.
   */
  chunkSize?: number;
  /**
   * As for read(): false keeps none of the pages handed out in the page cache (a caller
   * streaming a file once, such as an extract or a checksum, has no use for them).
   */
  cache?: boolean;
  /**
   * readChunks only: a buffer every chunk is read into, so a long file costs no
   * allocation per chunk. Each chunk is then a view of it, valid until the next one is
   * asked for: for consumers done with a chunk before they take the next.
   */
  into?: Uint8Array;
}

/** Who asks about xattrs, for the kernel's rules that depend on it. */
export interface XattrCaller {
  /**
   * Whether the caller holds CAP_SYS_ADMIN (default true: the vfs's user reads the image
   * itself anyway). Without it trusted.* is neither listed nor read (hasCapSysAdmin tells).
   */
  privileged?: boolean;
}

const ULLONG_MAX = (1n << 64n) - 1n;
/** Longest name a directory entry holds (EROFS_NAME_LEN). */
const NAME_MAX = 255;
const DEFAULT_CHUNK = 256 << 10;

/**
 * readChunks options for reading files once, start to end, each chunk used before the
 * next is asked for (written out, hashed, compared): no page is kept, as none would be
 * read again, and one buffer of the default chunk size serves every chunk of every file
 * read with them. A page cache filled by such a reader only held its last 64 MiB (`cat`
 * of a 5 GiB file peaked at 203 MB of RSS, 65 MB so), and a buffer a chunk was garbage by
 * the next.
 */
export function onePassReads(): { readonly cache: false; readonly into: Uint8Array } {
  return { cache: false, into: new Uint8Array(DEFAULT_CHUNK) };
}

/** A mounted EROFS image. Every method is safe to call concurrently. */
export class ErofsFs {
  readonly #ctx: MountContext;
  readonly #sources: BlockSource[];
  readonly #xattrs: XattrAccess;
  #root: Inode | null = null;
  #mounted = true;

  /** @internal Created by mount(). */
  constructor(ctx: MountContext, sources: BlockSource[]) {
    this.#ctx = ctx;
    this.#sources = sources;
    this.#xattrs = new XattrAccess(ctx);
  }

  /** Notes from mounting (e.g. "inode_share turned off: no fingerprint xattrs"). */
  readonly notices: string[] = [];

  /** @internal */
  async init(share: { inodeShare: boolean; domainId: string | undefined; fingerprints?: FingerprintIndex | undefined }): Promise<void> {
    await this.#xattrs.init();
    const index = share.fingerprints;
    index?.checkImage(this.#ctx.sb, "fingerprints");
    if (share.inodeShare) {
      const onDisk = (this.#ctx.sb.featureCompat & COMPAT.ISHARE_XATTRS) !== 0;
      if (!onDisk && !index) {
        // As the kernel: without on-disk fingerprints the option is dropped with a notice.
        this.notices.push("inode_share: the image has no ishare fingerprint xattrs; sharing turned off");
      } else {
        // On-disk fingerprints win; the index covers images (or files) without them.
        const fromDisk = (inode: Inode) => (onDisk ? this.#xattrs.fingerprint(inode) : Promise.resolve(null));
        this.#ctx.sharing = new MountSharing(
          await registryFor(this.#ctx.cache),
          new TextEncoder().encode(share.domainId ?? ""),
          this.#ctx.sb.blockSize,
          async (inode) => (await fromDisk(inode)) ?? index?.fingerprintOf(inode) ?? null,
        );
      }
    }
    const root = await iget(this.#ctx, this.#ctx.sb.rootNid);
    // EINVAL, as the kernel's mount refuses such a root (the inode itself is sound).
    if (root.kind !== "dir") throw new ErofsError("EINVAL", "root inode is not a directory", `nid ${root.nid}`);
    this.#root = root;
  }

  /** Which xattr namespaces the mount serves: the kernel's user_xattr and acl options. */
  get xattrNamespaces(): MountContext["xattrNamespaces"] {
    return this.#ctx.xattrNamespaces;
  }

  get superblock(): Superblock {
    return this.#ctx.sb;
  }

  /** The device table: each extra device's tag, size and place in the unified address space. */
  get devices(): readonly DeviceSlot[] {
    return this.#ctx.slots;
  }

  /** composefs's header (format version, flags), which mkcomposefs writes before the superblock; null in other images. */
  get composefs(): ComposefsHeader | null {
    return this.#ctx.composefs;
  }

  /** Mount-wide id, unique in this process (keys this mount's pages in a shared cache). */
  get mountId(): number {
    return this.#ctx.id;
  }

  async root(): Promise<Inode> {
    this.#check();
    return this.#root!;
  }

  /**
   * The inode with this nid (FUSE uses nids as inode numbers). Not an async method, which
   * would wrap iget's promise in one more (two more microtask turns a call, for every
   * entry of a walk); it fails as one would, with a rejected promise.
   */
  iget(nid: bigint): Promise<Inode> {
    if (!this.#mounted) return Promise.reject(unmounted());
    return iget(this.#ctx, nid);
  }

  /** Resolves a path from the root; the last component's symlink is followed only with `follow`. */
  async lookup(path: string | Uint8Array, options: { follow?: boolean } = {}): Promise<Inode> {
    this.#check();
    return resolvePath(this.#walker, toPathBytes(path), options.follow ?? false);
  }

  /** The child `name` of a directory (ENOENT if absent). `.` and `..` resolve as stored. */
  async lookupChild(dir: Inode, name: Uint8Array | string): Promise<Inode> {
    const bytes = toPathBytes(name);
    const nid = await this.lookupNid(dir, bytes);
    if (nid === null) throw new ErofsError("ENOENT", "no such file or directory", printable(bytes));
    return nid === dir.nid ? dir : iget(this.#ctx, nid);
  }

  /**
   * The nid a lookup of `name` in `dir` finds, as the kernel's lookup finds it, without
   * reading that inode; null when the name is not there. In a damaged directory (names out
   * of order, or repeated) it can differ from the nid readdir lists under the same name:
   * erofs-fuse checks each entry it lists with attributes against it.
   */
  async lookupNid(dir: Inode, name: Uint8Array | string): Promise<bigint | null> {
    this.#check();
    expectKind(dir, "dir");
    const bytes = toPathBytes(name);
    // As erofs_lookup: no stored name is longer than EROFS_NAME_LEN.
    if (bytes.length > NAME_MAX) throw new ErofsError("ENAMETOOLONG", "file name too long", printable(bytes));
    if (isDot(bytes)) return dir.nid;
    const entry = await findDirEntry(this.#ctx, dir, bytes);
    if (entry) return entry.nid;
    return isDotDot(bytes) && dir.nid === this.#ctx.sb.rootNid ? dir.nid : null;
  }

  /**
   * Whether a lookup of every name `dir` lists finds the very dirent listed, so that
   * lookupNid need not be asked per listed name (erofs-fuse's READDIRPLUS). True for a
   * sound directory: every block parses and the names ascend strictly through all of
   * them, which a binary search needs and mkfs writes. False for a damaged one, and for
   * one of more than 64 blocks (not read whole for this).
   */
  async lookupsFindListed(dir: Inode): Promise<boolean> {
    this.#check();
    expectKind(dir, "dir");
    return lookupsFindListed(this.#ctx, dir);
  }

  stat(inode: Inode): Stat {
    return statOf(inode, this.#ctx.sb);
  }

  /**
   * The entries of a directory in the kernel's readdir order. Without `dots`, `.` and `..`
   * are left out; with it they are where the kernel lists them: as stored (mkfs puts them
   * first), and for a directory stored without `.`, one made up after the last entry.
   * Holds the whole listing: a directory of more than MountOptions.maxListedEntries
   * entries (an image may claim a gigabyte of dirents) is refused with ENOMEM; `entries()`
   * and `readdirFrom()` list any directory in bounded memory.
   */
  async readdir(dir: Inode, options: { dots?: boolean } = {}): Promise<DirectoryEntry[]> {
    const out: DirectoryEntry[] = [];
    const most = this.#ctx.maxListedEntries;
    // The parts #listingParts yields, without an async generator's turns per part.
    for (let position = 0; ; ) {
      const part = await this.readdirFrom(dir, position, LISTING_PART, options);
      if (part.length === 0) return out;
      if (out.length + part.length > most) {
        throw new ErofsError("ENOMEM", `directory of more than ${most} entries is too large to list at once (list it in parts)`, `nid ${dir.nid}`);
      }
      for (const e of part) out.push(e);
      position = part[part.length - 1]!.next;
    }
  }

  /** The entries of a directory, as readdir() lists them, read a few blocks at a time. */
  async *entries(dir: Inode, options: { dots?: boolean } = {}): AsyncGenerator<DirectoryEntry> {
    for await (const part of this.#listingParts(dir, options)) yield* part;
  }

  /** A listing in parts of LISTING_PART entries, each part read as it is asked for. */
  async *#listingParts(dir: Inode, options: { dots?: boolean }): AsyncGenerator<DirectoryEntry[]> {
    for (let position = 0; ; ) {
      const part = await this.readdirFrom(dir, position, LISTING_PART, options);
      if (part.length === 0) return;
      yield part;
      position = part[part.length - 1]!.next;
    }
  }

  /**
   * Part of a directory's listing: at most `max` entries, as readdir() lists them, from
   * `position` on (0 for the start, else the `next` of an entry listed before). Reads
   * only the blocks it lists from. Positions are the kernel's (byte positions of dirents
   * in the directory), the made-up `.` of a directory stored without one coming last.
   */
  async readdirFrom(dir: Inode, position: number, max: number, options: { dots?: boolean } = {}): Promise<Array<DirectoryEntry & { readonly next: number }>> {
    this.#check();
    expectKind(dir, "dir");
    if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(max) || max < 0) {
      throw new ErofsError("EINVAL", `bad listing range ${position}+${max}`);
    }
    const out: Array<DirectoryEntry & { next: number }> = [];
    const end = dirEndPosition(this.#ctx, dir);
    while (out.length < max && position < end) {
      let part;
      try {
        part = await readDirEntriesFrom(this.#ctx, dir, position, max - out.length);
      } catch (e) {
        // As getdents(2): the entries listed before a fault are handed out, and the next
        // listing, from the fault, fails.
        if (out.length > 0 && ErofsError.isInstance(e)) return out;
        throw e;
      }
      if (part.length === 0) break;
      for (const { entry: e, next } of part) {
        if (options.dots || !(isDot(e.name) || isDotDot(e.name))) out.push({ name: e.name, nid: e.nid, ino: nidToIno(e.nid, this.#ctx.sb), fileType: e.fileType, next });
      }
      position = part[part.length - 1]!.next;
    }
    // A directory stored without its "." entry: the kernel lists one after all the stored
    // entries (at the position past the last of them), so listings keep its order.
    if (options.dots && dir.dotOmitted && out.length < max && position === end) {
      out.push({ name: new Uint8Array([0x2e]), nid: dir.nid, ino: dir.ino, fileType: 2, next: end + 1 });
    }
    return out;
  }

  /**
   * Up to `length` bytes of a file from `offset` (fewer at the end of the file). With
   * `cache: false` the bytes come from cached pages where present but missing pages are
   * not kept (for callers that cache the result themselves). With `into` (at least the
   * bytes to be read long; its old contents do not matter) the result is a view of it,
   * so a caller that reads repeatedly can reuse one buffer.
   */
  read(inode: Inode, offset: number, length: number, options: { cache?: boolean; into?: Uint8Array } = {}): Promise<Uint8Array> {
    // Not an async method, as iget: readData's promise is handed back as it is.
    try {
      this.#checkRead(inode, offset, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return readData(this.#ctx, inode, offset, length, options.cache ?? true, options.into);
  }

  #checkRead(inode: Inode, offset: number, length: number): void {
    this.#check();
    if (inode.kind === "dir") throw new ErofsError("EISDIR", "is a directory", `nid ${inode.nid}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new ErofsError("EINVAL", `bad read range ${offset}+${length}`);
    }
    // Offsets are numbers, exact below 2^53: bytes of a longer file past that are not
    // read rather than read from the wrong place (the kernel reads up to 2^63).
    if (offset + length > Number.MAX_SAFE_INTEGER && inode.size > Number.MAX_SAFE_INTEGER) {
      throw new ErofsError("EOPNOTSUPP", `read past 2^53 bytes into a file of ${inode.sizeBig} bytes`, `nid ${inode.nid}`);
    }
  }

  /**
   * lseek(2) with SEEK_DATA (`hole` false) or SEEK_HOLE (`hole` true): the next offset
   * that holds data or lies in a hole; ENXIO past the end or when no data follows.
   */
  async seek(inode: Inode, offset: number, hole: boolean): Promise<number> {
    this.#check();
    if (inode.kind !== "file") throw new ErofsError("EINVAL", "not a regular file", `nid ${inode.nid}`);
    return seekData(this.#ctx, inode, offset, hole ? "hole" : "data");
  }

  /**
   * Where a regular file's or a directory's bytes lie: its extents in order, as the
   * kernel's FIEMAP (filefrag) reports them on a mount, with each one's device, pcluster
   * size and format. Other inodes cannot be opened for FIEMAP: EINVAL.
   */
  extents(inode: Inode): AsyncGenerator<FileExtent> {
    this.#check();
    if (inode.kind !== "file" && inode.kind !== "dir") throw new ErofsError("EINVAL", "neither a regular file nor a directory", `nid ${inode.nid}`);
    return fileExtents(this.#ctx, inode);
  }

  /** The file's bytes in chunks, never holding more than one chunk. */
  async *readChunks(inode: Inode, options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array> {
    const { into } = options;
    const chunk = Math.min(options.chunkSize ?? DEFAULT_CHUNK, into?.length ?? Infinity);
    if (!(chunk >= 1)) throw new ErofsError("EINVAL", `chunk size ${chunk}`);
    const end = Math.min(inode.size, options.end ?? inode.size);
    const how = { cache: options.cache ?? true, ...(into ? { into } : {}) };
    for (let pos = options.start ?? 0; pos < end; ) {
      let length = Math.min(chunk, end - pos);
      // Read once and not kept: chunks of whole extents are decoded in place (wholeExtentsEnd).
      if (!how.cache) {
        this.#checkRead(inode, pos, length);
        length = (await wholeExtentsEnd(this.#ctx, inode, pos, pos + length)) - pos;
      }
      const data = await this.read(inode, pos, length, how);
      if (data.length === 0) break;
      pos += data.length;
      yield data;
    }
  }

  /** A Node readable stream of the file's bytes. */
  createReadStream(inode: Inode, options: ReadStreamOptions = {}): Readable {
    // A stream's consumers may hold chunks after asking for more: never a shared buffer.
    const { into: _shared, ...own } = options;
    return Readable.from(this.readChunks(inode, own), { objectMode: false });
  }

  /** A symlink's target bytes. */
  async readlink(inode: Inode): Promise<Uint8Array> {
    this.#check();
    if (inode.kind !== "symlink") throw new ErofsError("EINVAL", "not a symbolic link", `nid ${inode.nid}`);
    // Like the kernel's page_get_link: at most PATH_MAX - 1 bytes, cut at the first NUL.
    const data = await readData(this.#ctx, inode, 0, Math.min(inode.size, PATH_MAX - 1));
    const nul = data.indexOf(0);
    return nul < 0 ? data : data.subarray(0, nul);
  }

  /**
   * Names listxattr(2) returns, in the kernel's order: trusted.* only to a privileged
   * caller. Names a getxattr then refuses are listed too, as the kernel lists them (user.*
   * of a symlink or special file).
   */
  async listxattr(inode: Inode, caller: XattrCaller = {}): Promise<Uint8Array[]> {
    this.#check();
    return this.#xattrs.list(inode, caller.privileged ?? true);
  }

  /**
   * The value getxattr(2) returns, with the kernel's answers: ENODATA when absent, and as
   * the VFS answers before erofs is asked, for trusted.* to an unprivileged caller and
   * user.* of anything but a regular file or directory.
   */
  async getxattr(inode: Inode, name: string | Uint8Array, caller: XattrCaller = {}): Promise<Uint8Array> {
    this.#check();
    return this.#xattrs.get(inode, toPathBytes(name), caller.privileged ?? true);
  }

  /** Like getxattr, but null where getxattr fails ENODATA (cheaper where absence is common). */
  findxattr(inode: Inode, name: string | Uint8Array, caller: XattrCaller = {}): Promise<Uint8Array | null> {
    // Not an async method, as iget: erofs-fuse asks this for every `ls -l` entry.
    if (!this.#mounted) return Promise.reject(unmounted());
    return this.#xattrs.find(inode, toPathBytes(name), caller.privileged ?? true);
  }

  /** The page-cache-sharing fingerprint of a regular file, or null. */
  async fingerprint(inode: Inode): Promise<Uint8Array | null> {
    this.#check();
    return this.#xattrs.fingerprint(inode);
  }

  statfs(): StatFs {
    const sb = this.#ctx.sb;
    let blocks = sb.primaryBlocks;
    for (const s of this.#ctx.slots) blocks += s.blocks;
    return { bsize: sb.blockSize, blocks, bfree: 0, bavail: 0, files: ULLONG_MAX, ffree: ULLONG_MAX - sb.inodeCount, namemax: 255 };
  }

  /**
   * How many metadata reads reached past the end of the image, where they read zeros as
   * the kernel's do: an image cut short (fsck reports it).
   */
  get metadataReadsPastEnd(): number {
    return this.#ctx.meta.pastEnd;
  }

  /**
   * How many DEFLATE pclusters ended short of their output in its last page, where the
   * kernel leaves stale bytes and these read as zeros: damaged streams (fsck reports them).
   */
  get shortStreams(): number {
    return this.#ctx.compressed.shortStreams.size;
  }

  /**
   * The mount's caches: file pages, metadata blocks, the packed inode's pages, and whole
   * decoded extents kept for the page they share with the next fill (zstd and deflate,
   * and the packed inode's LZMA: other codecs decode just the prefix a fill needs).
   */
  cacheStats(): { data: CacheStats; metadata: CacheStats; packed: CacheStats; decodedExtents: DecodedExtentStats; scratchBytes: number; inodes: number; mapHeaders: number } {
    const c = this.#ctx.compressed;
    return {
      // Parsed inodes kept (MountOptions.inodeCacheEntries).
      inodes: this.#ctx.inodes.size,
      // Compressed files' parsed map headers kept.
      mapHeaders: c.zinfo.size,
      data: this.#ctx.cache.stats(),
      metadata: this.#ctx.meta.stats(),
      packed: this.#ctx.packedCache.stats(),
      decodedExtents: { extents: c.recent.size, bytes: c.recentBytes, budgetBytes: c.recentBudget },
      // Free scratch buffers kept for the next fills: the process's, shared by its mounts.
      scratchBytes: this.#ctx.scratch.retainedBytes,
    };
  }

  /**
   * Lets go of what only speeds up the next reads, for an owner that is idle: the image
   * files' readahead windows, the decoded extents kept for a next fill, the parsed
   * directory blocks, and the process's free scratch buffers (every mount's) and emptied
   * cache slabs kept for reuse (see @erofs-ts/ishare-cache). The page caches (file data,
   * metadata, fragments) stay: they hold what reading again would cost most.
   *
   * With `fragments`, the decoded fragments (the packed inode's pages) go too. That is
   * for an owner that keeps each file's pages elsewhere once read (the FUSE daemon: the
   * kernel's page cache or the shared one); fragment pages then only help while a burst
   * of reads is under way, reading files whose fragments share a packed pcluster.
   *
   * With `mapHeaders`, compressed files' parsed map headers go, parsed again from the
   * metadata when a file is next read (an idle erofs-fuse lets them go: its walks of
   * app-a-lz4 after an idle period were as fast, 1.03). With `inodes`, the parsed inodes
   * go as well: ~10,500 of them, some 6 MB of heap, after a walk of app-a and app-b; but
   * an inode looked up again then waits for its metadata block, which may be on the disk
   * by then (erofs-fuse, whose kernel had dropped its inodes, took ~1.2 times as long to
   * walk app-a-lz4 after an idle period with them gone). Which files share pages
   * (inode_share) is not parsed state: it stays.
   */
  releaseBuffers(options: { fragments?: boolean; mapHeaders?: boolean; inodes?: boolean } = {}): void {
    if (options.fragments) this.#dropFragments();
    if (options.mapHeaders || options.inodes) this.#ctx.compressed.zinfo.clear();
    if (options.inodes) this.#ctx.forgetInodes();
    // After the drop above: its emptied slabs are let go with the others.
    releaseRecycledSlabs();
    for (const s of this.#sources) s.release?.();
    forgetRecentExtents(this.#ctx);
    this.#ctx.dirBlocks.clear();
    this.#ctx.listingChecks.clear();
    // After the sources' release and the extents: their buffers came back to the pool.
    this.#ctx.scratch.clear();
  }

  /** Empties the packed inode's cache: its slabs go to the process's recycler. */
  #dropFragments(): void {
    const packed = this.#ctx.packedCache;
    if (packed.hasOwner(PACKED_OWNER)) packed.drop(packed.owner(PACKED_OWNER));
  }

  /** Whether inode_share is in effect on this mount, so some files may read through shared pages. */
  get sharingEnabled(): boolean {
    return this.#ctx.sharing !== null;
  }

  /** Whether a regular file reads through a shared inode's pages. */
  isShared(inode: Inode): boolean {
    return this.#ctx.sharing?.isShared(inode) ?? false;
  }

  /** Drops a file's clean cached pages (fadvise DONTNEED): shared pages for a shared file. */
  dropCache(inode: Inode): void {
    this.#ctx.cache.drop(this.#ctx.ownerOf(inode));
  }

  async unmount(): Promise<void> {
    if (!this.#mounted) return;
    this.#mounted = false;
    this.#ctx.sharing?.detachAll();
    this.#ctx.cache.dropKeyed(this.#ctx.privateOwnerPrefix);
    // Memory the next mount can use without faulting it in afresh (~11 µs a 4 KiB page on
    // the benchmark VM): the fragments' slabs go to the slab recycler, the kept extents'
    // and (as the sources close) the readahead windows' buffers to the scratch pool.
    this.#dropFragments();
    forgetRecentExtents(this.#ctx);
    this.#ctx.inodes.clear();
    this.#ctx.dirBlocks.clear();
    this.#ctx.listingChecks.clear();
    await Promise.allSettled(this.#sources.map((s) => s.close()));
  }

  readonly #walker: PathWalker = {
    root: () => this.root(),
    child: (dir, name) => this.lookupChild(dir, name),
    readlink: (link) => this.readlink(link),
  };

  #check(): void {
    if (!this.#mounted) throw unmounted();
  }
}

function unmounted(): ErofsError {
  return new ErofsError("EIO", "filesystem is unmounted");
}

