import { COMPRESSION_MAX, DATALAYOUT } from "./constants.js";
import { corrupted, unsupported } from "./errors.js";
import type { Inode } from "./inode.js";
import { ByteReader } from "./reader.js";
import type { Superblock } from "./superblock.js";

/**
 * Compressed-file mapping: struct z_erofs_map_header (8 bytes after the inode and its
 * xattrs, 8-byte aligned), then either full lcluster indexes (struct
 * z_erofs_lcluster_index, 8 bytes each), compact 4B/2B packs, or (48-bit layout)
 * encoded extents (struct z_erofs_extent, 4..32 byte records). The walk over indexes
 * follows the kernel's z_erofs_map_blocks_iter so extents come out as the kernel sees them.
 */

export const ADVISE = {
  COMPACTED_2B: 0x0001,
  EXTENTS: 0x0001,
  BIG_PCLUSTER_1: 0x0002,
  BIG_PCLUSTER_2: 0x0004,
  INLINE_PCLUSTER: 0x0008,
  INTERLACED_PCLUSTER: 0x0010,
  FRAGMENT_PCLUSTER: 0x0020,
} as const;

export const LCLUSTER = { PLAIN: 0, HEAD1: 1, NONHEAD: 2, HEAD2: 3 } as const;
/** Runtime "algorithms" for stored-uncompressed pclusters, after the real ones (0..3). */
export const ALG_SHIFTED = COMPRESSION_MAX;
export const ALG_INTERLACED = COMPRESSION_MAX + 1;

const LI_PARTIAL_REF = 1 << 15;
const LI_D0_CBLKCNT = 1 << 11;
const PCLUSTER_MAX_SIZE = 1 << 20;
const PCLUSTER_MAX_DSIZE = 12 << 20;
const EXTENT_PLEN_PARTIAL = 1 << 27;
const EXTENT_PLEN_FMT_BIT = 28;
const EXTENT_PLEN_MASK = (PCLUSTER_MAX_SIZE << 1) - 1;
/** Encoded-extent records read per metadata read when scanning 4-byte records. */
const EXTENT_BATCH = 1024;

/** Reads bytes of the inode's metadata space (primary device or metabox). */
export type MetaRead = (offset: number, length: number) => Promise<Uint8Array>;

/** Per-inode compression facts from the map header (and, lazily, the tail extent). */
export interface ZInfo {
  readonly advise: number;
  readonly lclusterBits: number;
  readonly algorithms: readonly [number, number];
  /** The whole file is a fragment of the packed inode. */
  readonly wholeFragment: boolean;
  /** Offset of the fragment in the packed inode (tail or whole-file fragments). */
  readonly fragmentOffset: number;
  /** Bytes of the inline (ztailpacking) tail pcluster, 0 if none. */
  readonly idataSize: number;
  /** Metadata offset of that inline pcluster. */
  readonly idataOffset: number;
  /** lcn of the tail extent's head (fragment or inline tail), -1 if none. */
  readonly tailHeadLcn: number;
  /** Encoded-extent count (48-bit extents layout), 0 otherwise. */
  readonly extents: number;
}

export type ZExtentKind = "hole" | "encoded" | "inline" | "fragment";

/** One decompression unit: `length` bytes from `logical` decode from one pcluster. */
export interface ZExtent {
  readonly logical: number;
  readonly length: number;
  readonly kind: ZExtentKind;
  /** Device byte offset of the pcluster (encoded), or metadata offset (inline). */
  readonly physical: number;
  readonly physicalLength: number;
  /** COMPRESSION.* or ALG_SHIFTED / ALG_INTERLACED. */
  readonly algorithm: number;
  /** The pcluster decodes to more than this extent (dedupe): decode a prefix only. */
  readonly partialRef: boolean;
  /** `length` reaches the extent's true end (else only a prefix of it is known). */
  readonly fullMapped: boolean;
}

function headerOffset(inode: Inode): number {
  return Math.ceil(inode.payloadOffset / 8) * 8;
}

interface Lcluster {
  lcn: number;
  type: number;
  clusterofs: number;
  delta0: number;
  delta1: number;
  pblk: number;
  compressedBlocks: number;
  partialRef: boolean;
  nextPackOffset: number;
}

/**
 * Compact index entry `idx` of a pack: the `encodebits` bits at bit encodebits × idx,
 * little-endian, read from up to 4 bytes that stay inside the pack.
 */
function packEntry(pack: Uint8Array, encodebits: number, idx: number): number {
  const bitpos = encodebits * idx;
  const byte = bitpos >> 3;
  let v = 0;
  for (let k = 0; k < 4 && byte + k < pack.length; k++) v |= pack[byte + k]! << (8 * k);
  return (v >>> (bitpos & 7)) >>> 0;
}

/** State of one mapping walk (z_erofs_maprecorder). */
class MapWalk {
  constructor(
    readonly inode: Inode,
    readonly sb: Superblock,
    readonly advise: number,
    readonly lclusterBits: number,
    readonly read: MetaRead,
  ) {}

  get where(): string {
    return `nid ${this.inode.nid}`;
  }

  async load(lcn: number, lookahead: boolean): Promise<Lcluster> {
    const l =
      this.inode.datalayout === DATALAYOUT.COMPRESSED_COMPACT
        ? await this.loadCompact(lcn, lookahead)
        : await this.loadFull(lcn);
    if (l.type !== LCLUSTER.NONHEAD && l.clusterofs >= 2 ** this.lclusterBits) {
      throw corrupted(`lcluster ${lcn} clusterofs ${l.clusterofs} too large`, this.where);
    }
    return l;
  }

  async loadFull(lcn: number): Promise<Lcluster> {
    const totalLclusters = Math.ceil(this.inode.size / 2 ** this.lclusterBits) + 1;
    if (lcn >= totalLclusters) throw corrupted(`lcluster ${lcn} beyond the file`, this.where);
    const pos = headerOffset(this.inode) + 16 + lcn * 8;
    const r = new ByteReader(await this.read(pos, 8), `lcluster ${lcn} of ${this.where}`);
    const advise = r.u16(0);
    const type = advise & 3;
    const l: Lcluster = {
      lcn, type, clusterofs: 0, delta0: 0, delta1: 0, pblk: 0, compressedBlocks: 0, partialRef: false, nextPackOffset: pos + 8,
    };
    if (type === LCLUSTER.NONHEAD) {
      l.clusterofs = 2 ** this.lclusterBits;
      l.delta0 = r.u16(4);
      if (l.delta0 & LI_D0_CBLKCNT) {
        if (!(this.advise & (ADVISE.BIG_PCLUSTER_1 | ADVISE.BIG_PCLUSTER_2))) {
          throw corrupted("compressed block count without big pclusters", this.where);
        }
        l.compressedBlocks = l.delta0 & ~LI_D0_CBLKCNT;
        l.delta0 = 1;
      }
      l.delta1 = r.u16(6);
    } else {
      l.partialRef = (advise & LI_PARTIAL_REF) !== 0;
      l.clusterofs = r.u16(2);
      l.pblk = r.u32(4);
    }
    return l;
  }

  async loadCompact(lcnIn: number, lookahead: boolean): Promise<Lcluster> {
    const ebase = headerOffset(this.inode) + 8;
    const bits = this.lclusterBits;
    const totalIdx = Math.ceil(this.inode.size / this.sb.blockSize);
    if (lcnIn >= totalIdx || bits > 14) throw corrupted(`compact lcluster ${lcnIn} out of range`, this.where);
    const bigPcluster = (this.advise & ADVISE.BIG_PCLUSTER_1) !== 0;
    // 4B packs first until the 2B packs can start 32-byte aligned.
    const initial4b = ((32 - (ebase % 32)) / 4) & 7;
    let compacted2b = 0;
    if (this.advise & ADVISE.COMPACTED_2B && initial4b < totalIdx) {
      compacted2b = Math.floor((totalIdx - initial4b) / 16) * 16;
    }
    let pos = ebase;
    let shift = 2;
    let lcn = lcnIn;
    if (lcn >= initial4b) {
      pos += initial4b * 4;
      lcn -= initial4b;
      if (lcn < compacted2b) shift = 1;
      else {
        pos += compacted2b * 2;
        lcn -= compacted2b;
      }
    }
    pos += lcn * (1 << shift);
    let vcnt: number;
    if (shift === 2) vcnt = 2;
    else if (bits <= 12) vcnt = 16;
    else throw unsupported(`compact 2B indexes with lcluster bits ${bits}`, this.where);
    const packSize = vcnt << shift;
    const packStart = pos - (pos % packSize);
    const pack = await this.read(packStart, packSize);
    if (pack.length !== packSize) throw corrupted(`compact index pack of ${pack.length} bytes, not ${packSize}`, this.where);
    const lobits = Math.max(bits, 12);
    const encodebits = ((packSize - 4) * 8) / vcnt;
    let i = (pos - packStart) >> shift;
    // Entries are decoded by packEntry into plain numbers (lo, type): this runs for every
    // lcluster looked up, up to 16 times each, and arrays or closures here were a large
    // part of a cold read's garbage.
    const lomask = (1 << lobits) - 1;
    const l: Lcluster = {
      lcn: lcnIn, type: 0, clusterofs: 0, delta0: 0, delta1: 0, pblk: 0, compressedBlocks: 0, partialRef: false,
      nextPackOffset: packStart + packSize,
    };
    let v = packEntry(pack, encodebits, i);
    let lo = v & lomask;
    const type = (v >>> lobits) & 3;
    l.type = type;
    if (type === LCLUSTER.NONHEAD) {
      l.clusterofs = 1 << bits;
      if (lookahead) {
        // Distance to the next head: count NONHEADs to the pack's end, the last one stores the rest.
        let d1 = 0;
        let j = i;
        let last = 0;
        let found = false;
        do {
          const jv = packEntry(pack, encodebits, j);
          last = jv & lomask;
          if (((jv >>> lobits) & 3) !== LCLUSTER.NONHEAD) {
            found = true;
            break;
          }
          d1++;
        } while (++j < vcnt);
        if (!found && !(last & LI_D0_CBLKCNT)) d1 += last - 1;
        l.delta1 = d1;
      }
      if (lo & LI_D0_CBLKCNT) {
        if (!bigPcluster) throw corrupted("compressed block count without big pclusters", this.where);
        l.compressedBlocks = lo & ~LI_D0_CBLKCNT;
        l.delta0 = 1;
        return l;
      }
      if (i + 1 !== vcnt) {
        l.delta0 = lo;
        return l;
      }
      // The pack's last lcluster stores delta[1]; delta[0] comes from the one before.
      v = packEntry(pack, encodebits, i - 1);
      lo = v & lomask;
      if (((v >>> lobits) & 3) !== LCLUSTER.NONHEAD) lo = 0;
      else if (lo & LI_D0_CBLKCNT) lo = 1;
      l.delta0 = lo + 1;
      return l;
    }
    l.clusterofs = lo;
    // A head's block address: the pack's base address plus the blocks of earlier heads.
    let nblk = 0;
    if (!bigPcluster) {
      nblk = 1;
      while (i > 0) {
        --i;
        const pv = packEntry(pack, encodebits, i);
        if (((pv >>> lobits) & 3) === LCLUSTER.NONHEAD) i -= pv & lomask;
        if (i >= 0) ++nblk;
      }
    } else {
      while (i > 0) {
        --i;
        const pv = packEntry(pack, encodebits, i);
        const plo = pv & lomask;
        if (((pv >>> lobits) & 3) === LCLUSTER.NONHEAD) {
          if (plo & LI_D0_CBLKCNT) {
            --i;
            nblk += plo & ~LI_D0_CBLKCNT;
            continue;
          }
          if (plo <= 1) throw corrupted("big pcluster with plain delta 1", this.where);
          i -= plo - 2;
          continue;
        }
        ++nblk;
      }
    }
    // The pack's base block address: its last 4 bytes, little-endian.
    l.pblk = (pack[packSize - 4]! | (pack[packSize - 3]! << 8) | (pack[packSize - 2]! << 16) | (pack[packSize - 1]! << 24)) >>> 0;
    l.pblk += nblk;
    return l;
  }

  /** Most lclusters one extent can span: no extent decodes to more than PCLUSTER_MAX_DSIZE. */
  get maxExtentLclusters(): number {
    return Math.ceil(PCLUSTER_MAX_DSIZE / 2 ** this.lclusterBits) + 1;
  }

  /** Walks back from a NONHEAD lcluster to its head; returns the head. */
  async lookback(from: Lcluster, distance: number): Promise<Lcluster> {
    let lcn = from.lcn;
    // Each step moves back by at least one lcluster, and a head further back than the
    // largest extent could not be this lcluster's: a corrupt i_size cannot make this long.
    const floor = Math.max(0, from.lcn - this.maxExtentLclusters);
    while (distance > 0 && lcn - distance >= floor) {
      lcn -= distance;
      const l = await this.load(lcn, false);
      if (l.type === LCLUSTER.NONHEAD) {
        distance = l.delta0;
        continue;
      }
      return l;
    }
    throw corrupted(`bogus lookback distance ${distance} at lcluster ${from.lcn}`, this.where);
  }

  /** Compressed size in blocks of the pcluster headed by `head`. */
  async compressedBlocks(head: Lcluster): Promise<number> {
    const big1 = (this.advise & ADVISE.BIG_PCLUSTER_1) !== 0;
    const big2 = (this.advise & ADVISE.BIG_PCLUSTER_2) !== 0;
    const lcn = head.lcn + 1;
    if (
      (head.type === LCLUSTER.HEAD1 && !big1) ||
      ((head.type === LCLUSTER.PLAIN || head.type === LCLUSTER.HEAD2) && !big2) ||
      lcn * 2 ** this.lclusterBits >= this.inode.size
    ) {
      return 1;
    }
    const next = await this.load(lcn, false);
    if (next.type === LCLUSTER.NONHEAD) {
      if (next.delta0 !== 1) throw corrupted(`bogus compressed block count at lcluster ${lcn}`, this.where);
      if (next.compressedBlocks) return next.compressedBlocks;
      throw corrupted(`missing compressed block count at lcluster ${lcn}`, this.where);
    }
    return 1;
  }

  /** Decoded length from `la` (the head's start) to the next head or the end of file. */
  async decompressedEnd(head: Lcluster, la: number): Promise<number> {
    const bits = this.lclusterBits;
    const headLcn = Math.floor(la / 2 ** bits);
    let lcn = head.lcn;
    const maxLcn = Math.ceil(this.inode.size / 2 ** bits);
    // An extent longer than PCLUSTER_MAX_DSIZE is refused anyway (mapCompressed): stop
    // looking for its end there, not at a corrupt i_size (2^40 bytes would be 2^28 loads).
    const lastLcn = headLcn + this.maxExtentLclusters;
    for (;;) {
      if (lcn * 2 ** bits >= this.inode.size) return this.inode.size;
      if (lcn > maxLcn) throw corrupted("extent runs past the end of file", this.where);
      if (lcn > lastLcn) throw unsupported(`extent at lcluster ${headLcn} decodes to more than ${PCLUSTER_MAX_DSIZE} bytes`, this.where);
      const l = await this.load(lcn, true);
      if (l.type === LCLUSTER.NONHEAD) {
        // Old mkfs wrote 0 here; the kernel treats it as 1.
        lcn += l.delta1 || 1;
      } else {
        if (lcn !== headLcn) return lcn * 2 ** bits + l.clusterofs;
        lcn += 1;
      }
    }
  }
}

/** Reads the map header and, for tail-packed or fragment tails, where the tail extent starts. */
export async function loadZInfo(inode: Inode, sb: Superblock, read: MetaRead): Promise<ZInfo> {
  const where = `nid ${inode.nid}`;
  const h = new ByteReader(await read(headerOffset(inode), 8), `map header of ${where}`);
  if (h.u8(7) & 0x80) {
    // Whole file in the packed inode: the other 63 bits are its offset there.
    const off = (h.u64(0) ^ (1n << 63n));
    if (off > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupted("fragment offset out of range", where);
    return {
      advise: ADVISE.FRAGMENT_PCLUSTER, lclusterBits: sb.blockSizeBits, algorithms: [0, 0], wholeFragment: true,
      fragmentOffset: Number(off), idataSize: 0, idataOffset: 0, tailHeadLcn: 0, extents: 0,
    };
  }
  const advise = h.u16(4);
  const lclusterBits = sb.blockSizeBits + (h.u8(7) & 15);
  if (inode.datalayout === DATALAYOUT.COMPRESSED_FULL && advise & ADVISE.EXTENTS) {
    const extents = h.u32(0) + h.u16(6) * 0x1_0000_0000;
    return {
      advise, lclusterBits, algorithms: [0, 0], wholeFragment: false, fragmentOffset: 0, idataSize: 0,
      idataOffset: 0, tailHeadLcn: -1, extents,
    };
  }
  const algType = h.u8(6);
  const algorithms: [number, number] = [algType & 15, algType >> 4];
  let fragmentOffset = 0;
  let idataSize = 0;
  if (advise & ADVISE.FRAGMENT_PCLUSTER) fragmentOffset = h.u32(0);
  else if (advise & ADVISE.INLINE_PCLUSTER) idataSize = h.u16(2);
  if (inode.datalayout === DATALAYOUT.COMPRESSED_COMPACT && !(advise & ADVISE.BIG_PCLUSTER_1) !== !(advise & ADVISE.BIG_PCLUSTER_2)) {
    throw corrupted("inconsistent big pcluster flags for compact indexes", where);
  }
  if (lclusterBits > 30) throw corrupted(`lcluster bits ${lclusterBits}`, where);
  let tailHeadLcn = -1;
  let idataOffset = 0;
  if (idataSize || advise & ADVISE.FRAGMENT_PCLUSTER) {
    if (inode.size === 0) throw corrupted("empty file with a tail extent", where);
    const walk = new MapWalk(inode, sb, advise, lclusterBits, read);
    const { head, first } = await findHead(walk, inode.size - 1);
    tailHeadLcn = head.lcn;
    if (idataSize) idataOffset = first.nextPackOffset;
    if (advise & ADVISE.FRAGMENT_PCLUSTER && inode.datalayout === DATALAYOUT.COMPRESSED_FULL) {
      // Full indexes keep a 64-bit fragment offset: the high half in the head's blkaddr.
      fragmentOffset += head.pblk * 0x1_0000_0000;
    }
  }
  return { advise, lclusterBits, algorithms, wholeFragment: false, fragmentOffset, idataSize, idataOffset, tailHeadLcn, extents: 0 };
}

/** The head lcluster of the extent holding byte `ofs`, its logical start and the extent end seen so far. */
async function findHead(walk: MapWalk, ofs: number): Promise<{ head: Lcluster; first: Lcluster; la: number; end: number; fullMapped: boolean }> {
  const bits = walk.lclusterBits;
  const initialLcn = Math.floor(ofs / 2 ** bits);
  const endoff = ofs % 2 ** bits;
  const first = await walk.load(initialLcn, false);
  let end = (first.lcn + 1) * 2 ** bits;
  switch (first.type) {
    case LCLUSTER.PLAIN:
    case LCLUSTER.HEAD1:
    case LCLUSTER.HEAD2: {
      if (endoff >= first.clusterofs) {
        return { head: first, first, la: first.lcn * 2 ** bits + first.clusterofs, end, fullMapped: false };
      }
      if (first.lcn === 0) throw corrupted("logical cluster 0 starts after its own data", walk.where);
      end = first.lcn * 2 ** bits + first.clusterofs;
      const head = await walk.lookback(first, 1);
      return { head, first, la: head.lcn * 2 ** bits + head.clusterofs, end, fullMapped: true };
    }
    case LCLUSTER.NONHEAD: {
      const head = await walk.lookback(first, first.delta0);
      return { head, first, la: head.lcn * 2 ** bits + head.clusterofs, end, fullMapped: false };
    }
    default:
      throw unsupported(`unknown lcluster type ${first.type}`, walk.where);
  }
}

/**
 * The extent containing logical byte `ofs` of a compressed inode, extended to the
 * extent's full decoded length (so a pcluster is decoded once for all its pages).
 */
export async function mapCompressed(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead): Promise<ZExtent> {
  const where = `nid ${inode.nid}`;
  if (ofs >= inode.size) {
    return { logical: inode.size, length: 0, kind: "hole", physical: 0, physicalLength: 0, algorithm: 0, partialRef: false, fullMapped: true };
  }
  if (z.wholeFragment) {
    return { logical: 0, length: inode.size, kind: "fragment", physical: z.fragmentOffset, physicalLength: inode.size, algorithm: 0, partialRef: false, fullMapped: true };
  }
  const ext = z.extents ? await mapEncodedExtents(inode, sb, z, ofs, read) : await mapIndexed(inode, sb, z, ofs, read);
  if (ext.kind === "encoded") {
    if (ext.algorithm < COMPRESSION_MAX && !(sb.compression.availableAlgorithms & (1 << ext.algorithm))) {
      throw corrupted(`algorithm ${ext.algorithm} not enabled in the superblock`, where);
    }
    if (ext.algorithm > ALG_INTERLACED) throw unsupported(`unknown compression algorithm ${ext.algorithm}`, where);
    if (ext.physicalLength > PCLUSTER_MAX_SIZE || ext.length > PCLUSTER_MAX_DSIZE) {
      throw unsupported(`pcluster of ${ext.physicalLength} bytes decoding to ${ext.length}`, where);
    }
  }
  if (ext.length <= 0 || ext.logical > ofs || ext.logical + ext.length <= ofs) {
    throw corrupted(`extent [${ext.logical}, +${ext.length}) does not cover ${ofs}`, where);
  }
  return ext;
}

async function mapIndexed(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead): Promise<ZExtent> {
  const walk = new MapWalk(inode, sb, z.advise, z.lclusterBits, read);
  const found = await findHead(walk, ofs);
  const { head } = found;
  let { end, fullMapped } = found;
  if (!fullMapped) {
    end = await walk.decompressedEnd(head, found.la);
    fullMapped = true;
  }
  if (z.idataSize && end > inode.size) end = inode.size;
  end = Math.min(end, inode.size);
  const la = found.la;
  let kind: ZExtentKind = "encoded";
  let physical: number;
  let physicalLength: number;
  if (z.idataSize && head.lcn === z.tailHeadLcn) {
    kind = "inline";
    physical = z.idataOffset;
    physicalLength = z.idataSize;
    if ((physical % sb.blockSize) + physicalLength > sb.blockSize) {
      throw corrupted(`inline pcluster of ${physicalLength} bytes crosses a block`, walk.where);
    }
  } else if (z.advise & ADVISE.FRAGMENT_PCLUSTER && head.lcn === z.tailHeadLcn) {
    return { logical: la, length: end - la, kind: "fragment", physical: z.fragmentOffset, physicalLength: end - la, algorithm: 0, partialRef: false, fullMapped: true };
  } else {
    physical = head.pblk * sb.blockSize;
    physicalLength = (await walk.compressedBlocks(head)) * sb.blockSize;
  }
  let algorithm: number;
  if (head.type === LCLUSTER.PLAIN) {
    if (end - la > physicalLength) throw corrupted("plain pcluster shorter than its extent", walk.where);
    algorithm = z.advise & ADVISE.INTERLACED_PCLUSTER ? ALG_INTERLACED : ALG_SHIFTED;
  } else {
    algorithm = head.type === LCLUSTER.HEAD2 ? z.algorithms[1] : z.algorithms[0];
  }
  return { logical: la, length: end - la, kind, physical, physicalLength, algorithm, partialRef: head.partialRef, fullMapped };
}

/** The 48-bit layout's encoded extents (z_erofs_map_blocks_ext). */
async function mapEncodedExtents(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead): Promise<ZExtent> {
  const where = `nid ${inode.nid}`;
  const recsz = 4 << ((z.advise >> 1) & 3);
  const base = Math.ceil((headerOffset(inode) + 8) / recsz) * recsz;
  const lsize = 2 ** z.lclusterBits;
  let lend = inode.size;
  let lstart: number;
  let plen = 0;
  let pa = 0;
  let last: boolean;
  if (recsz <= 8) {
    let pos = base;
    let running: number | null = null;
    if (recsz <= 4) {
      const r = new ByteReader(await read(pos, 8), `extents of ${where}`);
      running = r.u64n(0, "pstart");
      pos += 8;
      lstart = 0;
    } else {
      lstart = Math.floor(ofs / lsize) * lsize;
      pos += (lstart / lsize) * recsz;
    }
    if (running !== null && Math.floor(ofs / lsize) > z.extents + 1) throw corrupted("extent index beyond the table", where);
    // 4-byte records carry no start address: it is the running sum of the lengths before,
    // so reaching `ofs` reads every record from the first. They are read a batch at a time
    // (one metadata read per EXTENT_BATCH records, never one range sized by the offset).
    while (lstart <= ofs) {
      const n = Math.min(EXTENT_BATCH, Math.floor((ofs - lstart) / lsize) + 1);
      const r = new ByteReader(await read(pos, n * recsz), `extents of ${where}`);
      for (let i = 0; i < n; i++, lstart += lsize) {
        plen = r.u32(i * recsz);
        if (running !== null) {
          pa = running;
          running += plen & EXTENT_PLEN_MASK;
        } else {
          pa = r.u32(i * recsz + 4);
        }
      }
      pos += n * recsz;
    }
    last = lstart >= Math.ceil(lend / lsize) * lsize;
    lend = Math.min(lstart, lend);
    lstart -= lsize;
  } else {
    lstart = lend;
    let l = 0;
    let r = z.extents;
    if (r > 1 << 30) throw corrupted(`extent count ${r}`, where);
    while (l < r) {
      const mid = l + Math.floor((r - l) / 2);
      const rd = new ByteReader(await read(base + mid * recsz, recsz), `extents of ${where}`);
      // struct z_erofs_extent: plen, pstart_lo, pstart_hi, lstart_lo, lstart_hi (if the record has room).
      let la = rd.u32(12);
      const p = rd.u32(4) + rd.u32(8) * 0x1_0000_0000;
      if (recsz > 16) la += rd.u32(16) * 0x1_0000_0000;
      if (la > ofs) {
        r = mid;
        if (la > lend) throw corrupted("extents out of order", where);
        lend = la;
      } else {
        l = mid + 1;
        if (ofs === la) r = Math.min(l + 1, r);
        lstart = la;
        plen = rd.u32(0);
        pa = p;
      }
    }
    last = l >= z.extents;
  }
  if (lstart >= lend) {
    return { logical: ofs, length: Math.max(1, lend - ofs), kind: "hole", physical: 0, physicalLength: 0, algorithm: 0, partialRef: false, fullMapped: true };
  }
  if (last && z.advise & ADVISE.FRAGMENT_PCLUSTER) {
    const fragmentOffset = plen + (recsz > 4 ? pa * 0x1_0000_0000 : 0);
    return { logical: lstart, length: lend - lstart, kind: "fragment", physical: fragmentOffset, physicalLength: lend - lstart, algorithm: 0, partialRef: false, fullMapped: true };
  }
  if (!(plen & EXTENT_PLEN_MASK)) {
    return { logical: lstart, length: lend - lstart, kind: "hole", physical: 0, physicalLength: 0, algorithm: 0, partialRef: false, fullMapped: true };
  }
  const fmt = plen >>> EXTENT_PLEN_FMT_BIT;
  const partialRef = (plen & EXTENT_PLEN_PARTIAL) !== 0;
  const physicalLength = plen & EXTENT_PLEN_MASK;
  let algorithm: number;
  if (fmt) algorithm = fmt - 1;
  else if (z.advise & ADVISE.INTERLACED_PCLUSTER && pa % sb.blockSize === 0 && physicalLength % sb.blockSize === 0) {
    algorithm = ALG_INTERLACED;
  } else algorithm = ALG_SHIFTED;
  return { logical: lstart, length: lend - lstart, kind: "encoded", physical: pa, physicalLength, algorithm, partialRef, fullMapped: true };
}
