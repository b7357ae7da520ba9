import type { BlockSource, BufferPool } from "@erofs-ts/blockdev";
import type { ComposefsHeader, DeviceSlot, Inode, Superblock } from "@erofs-ts/format";
import type { CacheOwner, PageCache } from "@erofs-ts/ishare-cache";
import type { CompressedState } from "./compressed.js";
import type { DirBlock } from "./directory.js";
import type { MetaBlockReader } from "./meta-reader.js";
import type { MountSharing } from "./sharing.js";

/** Everything one mounted image's operations share. Internal to the vfs. */
export interface MountContext {
  readonly id: number;
  readonly sb: Superblock;
  /** The header composefs's writer puts before the superblock, if the image has one. */
  readonly composefs: ComposefsHeader | null;
  readonly primary: BlockSource;
  /** Where the filesystem starts in the primary source (the kernel's fsoffset=): its page cache's pages count from the source's start. */
  readonly fsoffset: number;
  /** Extra devices in device-table order (device id n is extra[n - 1]). */
  readonly extra: readonly BlockSource[];
  /**
   * Mounted without its extra devices: they are read from the image itself (see
   * FlatDeviceSource), and unified addresses are plain image addresses, as the kernel's.
   */
  readonly flatDevices: boolean;
  readonly slots: readonly DeviceSlot[];
  readonly deviceMask: number;
  readonly meta: MetaBlockReader;
  readonly cache: PageCache;
  /** The packed inode's pages (fragments), apart from file content: see data-path's pageHome. */
  readonly packedCache: PageCache;
  /** Inodes by nid, bounded LRU (Map insertion order). */
  readonly inodes: Map<bigint, Inode>;
  /** Most inodes `inodes` keeps (MountOptions.inodeCacheEntries). */
  readonly inodeCacheEntries: number;
  /** Most entries readdir() returns at once (MountOptions.maxListedEntries). */
  readonly maxListedEntries: number;
  /** The xattr namespaces this mount serves (MountOptions.userXattr and acl). */
  readonly xattrNamespaces: { readonly userXattr: boolean; readonly acl: boolean };
  /** Directory blocks by nid and block index (dirBlockKey), bounded LRU (see directory.ts). */
  readonly dirBlocks: Map<number | string, DirBlock>;
  /** Directories checked by lookupsFindListed, and its answer (bounded LRU, see directory.ts). */
  readonly listingChecks: Map<bigint, boolean>;
  /** Set once the metabox inode is loaded (images with the METABOX feature). */
  metabox: Inode | null;
  /**
   * The packed inode once loaded (its fragments are read for every file with a tail in
   * it: an inode cache lookup per fragment took ~4% of a cold read of app-a.erofs).
   */
  packed: Inode | null;
  readonly compressed: CompressedState;
  /**
   * Buffers that live for one fill: stored pclusters as read, and fills whose pages are
   * copied out rather than kept as views of them (see data-path's readData). The
   * process's pool (scratch-pool.ts), shared with its other mounts.
   */
  readonly scratch: BufferPool;
  /** Set when the mount shares pages (inode_share on and usable). */
  sharing: MountSharing | null;
  /** What the keys of this mount's private page owners start with: their pages leave a shared cache at unmount. */
  readonly privateOwnerPrefix: string;
  /** Owner of each inode's pages in the page cache. */
  ownerOf(inode: Inode): CacheOwner;
  /** Lets go of the parsed inodes and their owner keys (parsed again when asked for). */
  forgetInodes(): void;
}

/** The one owner of the packed-inode cache's pages. */
export const PACKED_OWNER = "packed";
