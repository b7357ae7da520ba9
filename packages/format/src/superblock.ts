import {
  COMPAT,
  COMPRESSION,
  COMPRESSION_MAX,
  EROFS_MAX_BLOCK_BITS,
  EROFS_MIN_BLOCK_BITS,
  EROFS_SB_EXTSLOT_SIZE,
  EROFS_SUPERBLOCK_BASE_SIZE,
  EROFS_SUPER_MAGIC,
  EROFS_SUPER_OFFSET,
  INCOMPAT,
  INCOMPAT_SUPPORTED,
  NID_METABOX_BIT,
} from "./constants.js";
import { crc32c } from "./crc32c.js";
import { ErofsError, corrupted, unsupported } from "./errors.js";
import { copyBytes } from "./bytes.js";
import { ByteReader } from "./reader.js";
import { PCLUSTER_MAX_SIZE } from "./zmap-layout.js";
import { joinWords } from "./words.js";

/** Per-algorithm settings from the superblock's compression configs (z_erofs_*_cfgs). */
export interface CompressionConfigs {
  /** Bit n set: algorithm n (COMPRESSION.*) may appear in this image. */
  readonly availableAlgorithms: number;
  readonly lz4MaxDistance: number;
  readonly lz4MaxPclusterBlocks: number;
  readonly lzmaDictSize: number;
  readonly deflateWindowBits: number;
  readonly zstdWindowLog: number;
}

/**
 * The superblock (struct erofs_super_block: 128 bytes, plus 16 per extension slot; 144
 * with metabox) at byte 1024 of the primary device.
 */
export interface Superblock {
  readonly checksum: number;
  readonly featureCompat: number;
  readonly featureIncompat: number;
  readonly blockSizeBits: number;
  readonly blockSize: number;
  /** 128 + 16 * sb_extslots. */
  readonly size: number;
  readonly rootNid: bigint;
  readonly inodeCount: bigint;
  /** Base seconds of compact-inode times (signed). */
  readonly epoch: bigint;
  readonly fixedNsec: number;
  readonly buildTime: number;
  /** Blocks of the primary device (48-bit with the 48BIT feature). */
  readonly primaryBlocks: number;
  readonly metaBlkaddr: number;
  readonly xattrBlkaddr: number;
  readonly uuid: Uint8Array;
  /** Volume label bytes, NUL-trimmed. */
  readonly volumeName: Uint8Array;
  readonly extraDevices: number;
  readonly devtSlotOff: number;
  readonly xattrPrefixCount: number;
  readonly xattrPrefixStart: number;
  readonly packedNid: bigint;
  readonly metaboxNid: bigint;
  readonly xattrFilterReserved: number;
  /** Long-prefix id of the page-cache-sharing fingerprint xattr (valid with ISHARE_XATTRS). */
  readonly ishareXattrPrefixId: number;
  readonly compression: CompressionConfigs;
}

export function hasCompat(sb: Superblock, bit: number): boolean {
  return (sb.featureCompat & bit) !== 0;
}

export function hasIncompat(sb: Superblock, bit: number): boolean {
  return (sb.featureIncompat & bit) !== 0;
}

/** How many bytes from the start of the image parseSuperblock wants (checksum range + configs). */
export const SUPERBLOCK_READ_SIZE = EROFS_SUPER_OFFSET + (1 << EROFS_MAX_BLOCK_BITS);

const WHERE = "superblock";

/**
 * Most bytes the superblock may claim (sb_extslots): the kernel reads it from the first
 * page of the device, 4 KiB on the machines whose kernel this reader follows, whatever
 * the block size, and refuses a superblock that runs past that page.
 */
const SUPERBLOCK_MAX_SIZE = 4096 - EROFS_SUPER_OFFSET;

/**
 * Parses and validates the superblock from the first bytes of the image (ideally
 * SUPERBLOCK_READ_SIZE of them, fewer if the image is smaller). Refuses what the kernel's
 * mount refuses, in the order it checks and with its errno: a bad magic, block size or
 * directory block size (EINVAL), then a wrong checksum (EBADMSG), then unknown incompat
 * features or an oversized superblock (EINVAL).
 */
export function parseSuperblock(image: Uint8Array): Superblock {
  if (image.length < EROFS_SUPER_OFFSET + EROFS_SUPERBLOCK_BASE_SIZE) {
    // No length in the message: callers may pass fewer bytes than the file has (the vfs
    // passes what a loop device of it would hold, its whole 512-byte sectors).
    throw new ErofsError("EINVAL", "too short for an EROFS image", WHERE);
  }
  const r = new ByteReader(image, WHERE);
  const at = EROFS_SUPER_OFFSET;
  const magic = r.u32(at);
  if (magic !== EROFS_SUPER_MAGIC) {
    throw new ErofsError("EINVAL", `not an EROFS image (magic 0x${magic.toString(16).padStart(8, "0")})`, WHERE);
  }
  const checksum = r.u32(at + 4);
  const featureCompat = r.u32(at + 8);
  const blockSizeBits = r.u8(at + 12);
  if (blockSizeBits < EROFS_MIN_BLOCK_BITS || blockSizeBits > EROFS_MAX_BLOCK_BITS) {
    throw new ErofsError("EINVAL", `unsupported block size 2^${blockSizeBits}`, WHERE);
  }
  const blockSize = 1 << blockSizeBits;
  const dirblkbits = r.u8(at + 90);
  if (dirblkbits !== 0) throw new ErofsError("EINVAL", `directory block bits ${dirblkbits} (only 0 is defined)`, WHERE);

  if (featureCompat & COMPAT.SB_CHKSUM) verifyChecksum(image, blockSize, checksum);

  const featureIncompat = r.u32(at + 80);
  const unknown = (featureIncompat & ~INCOMPAT_SUPPORTED) >>> 0;
  if (unknown) {
    throw new ErofsError("EINVAL", `unknown incompatible features 0x${unknown.toString(16)}`, WHERE);
  }
  const size = EROFS_SUPERBLOCK_BASE_SIZE + r.u8(at + 13) * EROFS_SB_EXTSLOT_SIZE;
  if (size > SUPERBLOCK_MAX_SIZE) throw new ErofsError("EINVAL", `superblock of ${size} bytes (more than ${SUPERBLOCK_MAX_SIZE})`, WHERE);
  if (at + size > image.length) throw corrupted(`superblock of ${size} bytes past the end of the image`, WHERE);

  const is48 = (featureIncompat & INCOMPAT.BIT48) !== 0;
  const rootnid8 = r.u64(at + 112);
  let rootNid: bigint;
  let primaryBlocks = r.u32(at + 36);
  if (is48 && rootnid8 !== 0n) {
    rootNid = rootnid8;
    primaryBlocks = joinWords(primaryBlocks, r.u16(at + 14));
  } else {
    rootNid = BigInt(r.u16(at + 14));
  }

  // Any value, as the kernel takes it: the packed inode is only looked up (as any nid,
  // in the metabox too) on an image with the fragments feature.
  const packedNid = r.u64(at + 96);
  let metaboxNid = 0n;
  if (featureIncompat & INCOMPAT.METABOX) {
    if (size <= 128) throw corrupted("metabox feature without the extended superblock", WHERE);
    metaboxNid = r.u64(at + 128);
    if (metaboxNid >> NID_METABOX_BIT) throw corrupted("metabox inode nid points into the metabox", WHERE);
  }

  const xattrPrefixCount = r.u8(at + 91);
  const ishareRaw = r.u8(at + 105);
  if (featureCompat & COMPAT.ISHARE_XATTRS && ishareRaw >= xattrPrefixCount) {
    throw corrupted(`ishare xattr prefix id ${ishareRaw} beyond ${xattrPrefixCount} prefixes`, WHERE);
  }

  const extraDevices = featureIncompat & INCOMPAT.DEVICE_TABLE ? r.u16(at + 86) : 0;

  return {
    checksum,
    featureCompat,
    featureIncompat,
    blockSizeBits,
    blockSize,
    size,
    rootNid,
    inodeCount: r.u64(at + 16),
    epoch: r.i64(at + 24),
    fixedNsec: r.u32(at + 32),
    buildTime: r.u32(at + 108),
    primaryBlocks,
    metaBlkaddr: r.u32(at + 40),
    xattrBlkaddr: r.u32(at + 44),
    uuid: copyBytes(image, at + 48, at + 64),
    volumeName: trimNul(copyBytes(image, at + 64, at + 80)),
    extraDevices,
    devtSlotOff: r.u16(at + 88),
    xattrPrefixCount,
    xattrPrefixStart: r.u32(at + 92),
    packedNid,
    metaboxNid,
    xattrFilterReserved: r.u8(at + 104),
    ishareXattrPrefixId: ishareRaw,
    compression: parseCompressionConfigs(r, featureIncompat, size),
  };
}

/**
 * Where the bytes the superblock checksum covers end: the kernel sums the rest of the
 * superblock's block from byte 1024 on (or one whole block when blocks are no larger than
 * 1 KiB). A mount reads at least this far.
 */
export function superblockChecksumEnd(blockSize: number): number {
  return EROFS_SUPER_OFFSET + (blockSize > EROFS_SUPER_OFFSET ? blockSize - EROFS_SUPER_OFFSET : blockSize);
}

/**
 * The superblock checksum of an image (crc32c): what a writer stores at byte 1028, and
 * what tools that patch images (tests, the fuzzer) use to keep the checksum valid.
 */
export function superblockChecksum(image: Uint8Array, blockSize: number): number {
  const end = superblockChecksumEnd(blockSize);
  if (end > image.length) throw corrupted("superblock checksum range past end of image", WHERE);
  // Summed with the checksum field zeroed.
  const copy = copyBytes(image, EROFS_SUPER_OFFSET, end);
  copy[4] = copy[5] = copy[6] = copy[7] = 0;
  return crc32c(0xffffffff, copy);
}

function verifyChecksum(image: Uint8Array, blockSize: number, expected: number): void {
  const actual = superblockChecksum(image, blockSize);
  if (actual !== expected) {
    // EBADMSG, as the kernel's mount answers it (a corrupt image elsewhere is EUCLEAN).
    throw new ErofsError("EBADMSG", `superblock checksum mismatch (0x${actual.toString(16)} != 0x${expected.toString(16)})`, WHERE);
  }
}

function trimNul(bytes: Uint8Array): Uint8Array {
  const end = bytes.indexOf(0);
  return end < 0 ? bytes : bytes.subarray(0, end);
}

const DEFAULT_LZ4_DISTANCE = 65535;
/** The kernel's Z_EROFS_PCLUSTER_MAX_SIZE in the 4 KiB blocks it counts lz4's limit in. */
const LZ4_MAX_PCLUSTER_BLOCKS = PCLUSTER_MAX_SIZE >> 12;
/** Sizes of struct z_erofs_{lz4,lzma,deflate,zstd}_cfgs: the shortest record each may have. */
const LZ4_CFGS_SIZE = 14;
const LZMA_CFGS_SIZE = 14;
const DEFLATE_CFGS_SIZE = 6;
const ZSTD_CFGS_SIZE = 6;
/** Bytes of a compression config record that are read: the largest of those structures. */
const RECORD_READ = Math.max(LZ4_CFGS_SIZE, LZMA_CFGS_SIZE, DEFLATE_CFGS_SIZE, ZSTD_CFGS_SIZE);
/** Z_EROFS_LZMA_MAX_DICT_SIZE: 8 MiB. */
const LZMA_MAX_DICT_SIZE = 8 * PCLUSTER_MAX_SIZE;
/** log2 of Z_EROFS_ZSTD_MAX_DICT_SIZE (the largest pcluster). */
const ZSTD_MAX_WINDOW_LOG = Math.log2(PCLUSTER_MAX_SIZE);

/**
 * The compression configs follow the superblock as length-prefixed (le16) records, each
 * 4-byte aligned, one per algorithm bit in available_compr_algs (z_erofs_parse_cfgs).
 */
function parseCompressionConfigs(r: ByteReader, incompat: number, sbSize: number): CompressionConfigs {
  const at = EROFS_SUPER_OFFSET;
  const cfg = {
    availableAlgorithms: 1 << COMPRESSION.LZ4,
    lz4MaxDistance: r.u16(at + 84) || DEFAULT_LZ4_DISTANCE,
    lz4MaxPclusterBlocks: 0,
    lzmaDictSize: 0,
    deflateWindowBits: 15,
    zstdWindowLog: 0,
  };
  if (!(incompat & INCOMPAT.COMPR_CFGS)) return cfg;
  const algs = r.u16(at + 84);
  if (algs & ~((1 << COMPRESSION_MAX) - 1)) {
    throw unsupported(`unknown compression algorithms 0x${algs.toString(16)}`, WHERE);
  }
  cfg.availableAlgorithms = algs;
  cfg.lz4MaxDistance = DEFAULT_LZ4_DISTANCE;
  const invalid = (what: string) => new ErofsError("EINVAL", `${what} in the compression configs`, WHERE);
  let off = at + sbSize;
  for (let alg = 0; alg < COMPRESSION_MAX; alg++) {
    if (!(algs & (1 << alg))) continue;
    off = (off + 3) & ~3;
    // A length of 0 stands for 65536, as the kernel reads variable-sized metadata.
    const len = r.u16(off) || 0x10000;
    const p = off + 2;
    // What is read of the record must be in the bytes given; the rest of a long one may lie
    // past them (only the kernel's fixed-size structure at its start is used).
    r.check(p, Math.min(len, RECORD_READ));
    // Each algorithm's record is checked as the kernel's z_erofs_load_*_config checks it
    // at mount: too short, an unknown format or an out-of-range size refuses the image.
    if (alg === COMPRESSION.LZ4) {
      if (len < LZ4_CFGS_SIZE) throw invalid(`lz4 config of ${len} bytes`);
      cfg.lz4MaxDistance = r.u16(p) || DEFAULT_LZ4_DISTANCE;
      cfg.lz4MaxPclusterBlocks = r.u16(p + 2);
      // The kernel refuses the mount (EINVAL) above the largest pcluster counted in 4 KiB
      // blocks, whatever the image's block size: it reads these configs before it takes
      // that block size on (measured on 6.18: 512 KiB pclusters of 1 KiB blocks refused).
      if (cfg.lz4MaxPclusterBlocks > LZ4_MAX_PCLUSTER_BLOCKS) {
        throw invalid(`lz4 pclusters of up to ${cfg.lz4MaxPclusterBlocks} blocks (more than ${LZ4_MAX_PCLUSTER_BLOCKS})`);
      }
    } else if (alg === COMPRESSION.LZMA) {
      if (len < LZMA_CFGS_SIZE) throw invalid(`lzma config of ${len} bytes`);
      if (r.u16(p + 4)) throw invalid(`lzma format ${r.u16(p + 4)}`);
      cfg.lzmaDictSize = r.u32(p);
      if (cfg.lzmaDictSize < 4096 || cfg.lzmaDictSize > LZMA_MAX_DICT_SIZE) throw invalid(`lzma dictionary of ${cfg.lzmaDictSize} bytes`);
    } else if (alg === COMPRESSION.DEFLATE) {
      if (len < DEFLATE_CFGS_SIZE) throw invalid(`deflate config of ${len} bytes`);
      cfg.deflateWindowBits = r.u8(p);
      // As the kernel: zlib's largest window is 2^15; a bigger one cannot be honoured.
      if (cfg.deflateWindowBits > 15) throw unsupported(`deflate window bits ${cfg.deflateWindowBits}`, WHERE);
    } else if (alg === COMPRESSION.ZSTD) {
      if (len < ZSTD_CFGS_SIZE) throw invalid(`zstd config of ${len} bytes`);
      if (r.u8(p)) throw invalid(`zstd format ${r.u8(p)}`);
      // The window, as log2 - 10, may not exceed the largest pcluster (1 MiB).
      if (r.u8(p + 1) > ZSTD_MAX_WINDOW_LOG - 10) throw invalid(`zstd window log ${r.u8(p + 1) + 10}`);
      cfg.zstdWindowLog = r.u8(p + 1) + 10;
    }
    off = p + len;
  }
  return cfg;
}
