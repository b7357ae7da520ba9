/** On-disk constants of the EROFS format (include/erofs_fs.h in the upstream tree). */

export const EROFS_SUPER_MAGIC = 0xe0f5e1e2;
/** The superblock starts 1 KiB into the image, leaving room for boot sectors. */
export const EROFS_SUPER_OFFSET = 1024;
export const EROFS_SUPERBLOCK_BASE_SIZE = 128;
export const EROFS_SB_EXTSLOT_SIZE = 16;
export const EROFS_MIN_BLOCK_BITS = 9;
export const EROFS_MAX_BLOCK_BITS = 16;
/** Inode slots are 32 bytes: nid = byte offset from the metadata start >> 5. */
export const EROFS_ISLOT_BITS = 5;
export const EROFS_NAME_LEN = 255;

export const COMPAT = {
  SB_CHKSUM: 0x01,
  MTIME: 0x02,
  XATTR_FILTER: 0x04,
  SHARED_EA_IN_METABOX: 0x08,
  PLAIN_XATTR_PFX: 0x10,
  ISHARE_XATTRS: 0x20,
} as const;

export const INCOMPAT = {
  ZERO_PADDING: 0x01,
  COMPR_CFGS: 0x02,
  BIG_PCLUSTER: 0x02,
  CHUNKED_FILE: 0x04,
  DEVICE_TABLE: 0x08,
  COMPR_HEAD2: 0x08,
  ZTAILPACKING: 0x10,
  FRAGMENTS: 0x20,
  DEDUPE: 0x20,
  XATTR_PREFIXES: 0x40,
  BIT48: 0x80,
  METABOX: 0x100,
} as const;
/** Every incompat bit this reader understands; any other bit refuses the mount. */
export const INCOMPAT_SUPPORTED = 0x1ff;

export const DATALAYOUT = {
  FLAT_PLAIN: 0,
  COMPRESSED_FULL: 1,
  FLAT_INLINE: 2,
  COMPRESSED_COMPACT: 3,
  CHUNK_BASED: 4,
} as const;
export const DATALAYOUT_MAX = 5;

export const CHUNK_FORMAT = {
  BLKBITS_MASK: 0x1f,
  INDEXES: 0x20,
  BIT48: 0x40,
  ALL: 0x7f,
} as const;

/** Bit 63 of a dirent/root nid says the inode lives in the metabox inode's data. */
export const NID_METABOX_BIT = 63n;
export const NID_MASK = (1n << 63n) - 1n;

export const FILE_TYPE = {
  UNKNOWN: 0,
  REG_FILE: 1,
  DIR: 2,
  CHRDEV: 3,
  BLKDEV: 4,
  FIFO: 5,
  SOCK: 6,
  SYMLINK: 7,
} as const;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** Compression algorithm ids (h_algorithmtype, available_compr_algs bits). */
export const COMPRESSION = { LZ4: 0, LZMA: 1, DEFLATE: 2, ZSTD: 3 } as const;
export const COMPRESSION_MAX = 4;
