import { DATALAYOUT } from "./constants.js";
import { ErofsError, corrupted, unsupported } from "./errors.js";
import { blockCountBig, nidWhere, type Inode } from "./inode.js";
import type { MetaWindow } from "./meta-window.js";
import type { Superblock } from "./superblock.js";
import { ADVISE, LCLUSTER, PCLUSTER_MAX_DSIZE, headerOffset } from "./zmap-layout.js";
import { pow2 } from "./words.js";

/**
 * The walk over lcluster indexes (full: struct z_erofs_lcluster_index, 8 bytes each;
 * compact: 4B/2B packs) that finds a compressed extent's head, pcluster and end, as the
 * kernel's z_erofs_map_blocks_iter does, so extents come out as the kernel sees them.
 */

const LI_PARTIAL_REF = 1 << 15;
const LI_D0_CBLKCNT = 1 << 11;

export interface Lcluster {
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

function le16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** 4B compact indexes come first, until the 2B packs can start 32-byte aligned. */
function initial4bCount(ebase: number): number {
  return ((32 - (ebase % 32)) / 4) & 7;
}

/**
 * How many compact indexes the kernel takes an inode to have: one per block of i_size,
 * counted in 32 bits. An i_size of 2^44 bytes or more (4 KiB blocks) wraps the count,
 * and lclusters past the wrapped count are refused (EINVAL) however large i_size is.
 */
function compactIndexCount(inode: Inode, sb: Superblock): number {
  if (inode.size <= Number.MAX_SAFE_INTEGER) return Math.ceil(inode.size / sb.blockSize) % 2 ** 32;
  return Number(blockCountBig(inode, sb.blockSize) % 2n ** 32n);
}

/** 2B compact indexes after those: whole packs of 16 (when the inode uses 2B packs). */
function compacted2bCount(ebase: number, totalIdx: number, advise: number): number {
  const initial4b = initial4bCount(ebase);
  if (!(advise & ADVISE.COMPACTED_2B) || initial4b >= totalIdx) return 0;
  return Math.floor((totalIdx - initial4b) / 16) * 16;
}

/**
 * Compact index entry `idx` of the pack at `bytes[at]` (`size` bytes): the `encodebits`
 * bits at bit encodebits × idx, little-endian, read from up to 4 bytes inside the pack.
 */
function packEntry(bytes: Uint8Array, at: number, size: number, encodebits: number, idx: number): number {
  const bitpos = encodebits * idx;
  const byte = bitpos >> 3;
  let v = 0;
  for (let k = 0; k < 4 && byte + k < size; k++) v |= bytes[at + byte + k]! << (8 * k);
  return (v >>> (bitpos & 7)) >>> 0;
}

/**
 * Metadata offsets [lo, hi) of an inode's map header and every lcluster index after it:
 * all a walk over them may read (compact packs included whole: 4B packs end 8-byte
 * aligned, and 2B packs end 32-byte aligned, as they start).
 */
export function lclusterIndexRange(inode: Inode, sb: Superblock, advise: number, lclusterBits: number): [number, number] {
  const lo = headerOffset(inode);
  if (inode.datalayout !== DATALAYOUT.COMPRESSED_COMPACT) {
    return [lo, lo + 16 + (Math.ceil(inode.size / pow2(lclusterBits)) + 1) * 8];
  }
  const ebase = lo + 8;
  const totalIdx = compactIndexCount(inode, sb);
  const initial = Math.min(initial4bCount(ebase), totalIdx);
  const compacted = compacted2bCount(ebase, totalIdx, advise);
  const end = ebase + initial * 4 + compacted * 2 + (totalIdx - initial - compacted) * 4;
  return [lo, Math.ceil(end / 8) * 8];
}

/**
 * One mapping walk over a compressed inode's lcluster indexes (z_erofs_maprecorder). It
 * is synchronous: every index it looks at comes from `meta`, which throws for bytes not
 * in memory, and the caller (settle) reads them and walks again. A cold walk reads once
 * or twice; a warm one (its indexes cached) runs without a suspension or a promise,
 * which is most of them: a sequential read maps every extent of a file.
 */
export class LclusterWalk {
  /** Bytes of an lcluster, 2^lclusterBits (a small integer: see words.ts). */
  readonly lclusterSize: number;

  constructor(
    readonly inode: Inode,
    readonly sb: Superblock,
    readonly advise: number,
    readonly lclusterBits: number,
    readonly meta: MetaWindow,
  ) {
    this.lclusterSize = pow2(lclusterBits);
  }

  get where(): string {
    return nidWhere(this.inode);
  }

  load(lcn: number, lookahead: boolean): Lcluster {
    const l =
      this.inode.datalayout === DATALAYOUT.COMPRESSED_COMPACT
        ? this.loadCompact(lcn, lookahead)
        : this.loadFull(lcn);
    if (l.type !== LCLUSTER.NONHEAD && l.clusterofs >= this.lclusterSize) {
      throw corrupted(`lcluster ${lcn} clusterofs ${l.clusterofs} too large`, this.where);
    }
    return l;
  }

  loadFull(lcn: number): Lcluster {
    const totalLclusters = Math.ceil(this.inode.size / this.lclusterSize) + 1;
    if (lcn >= totalLclusters) throw corrupted(`lcluster ${lcn} beyond the file`, this.where);
    const pos = headerOffset(this.inode) + 16 + lcn * 8;
    // The whole 8-byte index from one span (a record is never split between reads).
    const at = this.meta.at(pos, 8);
    const b = this.meta.span.bytes;
    const advise = le16(b, at);
    const type = advise & 3;
    const l: Lcluster = {
      lcn, type, clusterofs: 0, delta0: 0, delta1: 0, pblk: 0, compressedBlocks: 0, partialRef: false, nextPackOffset: pos + 8,
    };
    if (type === LCLUSTER.NONHEAD) {
      l.clusterofs = this.lclusterSize;
      l.delta0 = le16(b, at + 4);
      if (l.delta0 & LI_D0_CBLKCNT) {
        if (!(this.advise & (ADVISE.BIG_PCLUSTER_1 | ADVISE.BIG_PCLUSTER_2))) {
          throw corrupted("compressed block count without big pclusters", this.where);
        }
        l.compressedBlocks = l.delta0 & ~LI_D0_CBLKCNT;
        l.delta0 = 1;
      }
      l.delta1 = le16(b, at + 6);
    } else {
      l.partialRef = (advise & LI_PARTIAL_REF) !== 0;
      l.clusterofs = le16(b, at + 2);
      l.pblk = le32(b, at + 4);
    }
    return l;
  }

  loadCompact(lcnIn: number, lookahead: boolean): Lcluster {
    const ebase = headerOffset(this.inode) + 8;
    const bits = this.lclusterBits;
    const totalIdx = compactIndexCount(this.inode, this.sb);
    // EINVAL, not EFSCORRUPTED: what the kernel answers for this check, and so what a
    // read through a kernel mount of the image fails with.
    if (lcnIn >= totalIdx || bits > 14) throw new ErofsError("EINVAL", `compact lcluster ${lcnIn} out of range`, this.where);
    const bigPcluster = (this.advise & ADVISE.BIG_PCLUSTER_1) !== 0;
    const initial4b = initial4bCount(ebase);
    const compacted2b = compacted2bCount(ebase, totalIdx, this.advise);
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
    // The pack, at pack[at] onwards (a view of the metadata block holding it, not a copy).
    const at = this.meta.at(packStart, packSize);
    const pack = this.meta.span.bytes;
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
    let v = packEntry(pack, at, packSize, encodebits, i);
    let lo = v & lomask;
    const type = (v >>> lobits) & 3;
    l.type = type;
    if (type === LCLUSTER.NONHEAD) {
      l.clusterofs = this.lclusterSize;
      if (lookahead) {
        // Distance to the next head: count NONHEADs to the pack's end, the last one stores the rest.
        let d1 = 0;
        let j = i;
        let last = 0;
        let found = false;
        do {
          const jv = packEntry(pack, at, packSize, encodebits, j);
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
      v = packEntry(pack, at, packSize, encodebits, i - 1);
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
        const pv = packEntry(pack, at, packSize, encodebits, i);
        if (((pv >>> lobits) & 3) === LCLUSTER.NONHEAD) i -= pv & lomask;
        if (i >= 0) ++nblk;
      }
    } else {
      while (i > 0) {
        --i;
        const pv = packEntry(pack, at, packSize, encodebits, i);
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
    l.pblk = le32(pack, at + packSize - 4);
    l.pblk += nblk;
    return l;
  }

  /** Most lclusters one extent can span: no extent decodes to more than PCLUSTER_MAX_DSIZE. */
  get maxExtentLclusters(): number {
    return Math.ceil(PCLUSTER_MAX_DSIZE / this.lclusterSize) + 1;
  }

  /** Walks back from a NONHEAD lcluster to its head; returns the head. */
  lookback(from: Lcluster, distance: number): Lcluster {
    let lcn = from.lcn;
    // Each step moves back by at least one lcluster, and a head further back than the
    // largest extent could not be this lcluster's: a corrupt i_size cannot make this long.
    const floor = Math.max(0, from.lcn - this.maxExtentLclusters);
    while (distance > 0 && lcn - distance >= floor) {
      lcn -= distance;
      const l = this.load(lcn, false);
      if (l.type === LCLUSTER.NONHEAD) {
        distance = l.delta0;
        continue;
      }
      return l;
    }
    throw corrupted(`bogus lookback distance ${distance} at lcluster ${from.lcn}`, this.where);
  }

  /**
   * Whether the kernel maps lcluster `lcn`, a NONHEAD one, to `head` (it looks back from
   * each lcluster it reads). An lcluster that fails to load or to look back maps nowhere.
   */
  looksBackTo(lcn: number, head: Lcluster): boolean {
    try {
      const l = this.load(lcn, false);
      if (l.type !== LCLUSTER.NONHEAD) return false;
      return lcn - l.delta0 === head.lcn || this.lookback(l, l.delta0).lcn === head.lcn;
    } catch (e) {
      if (!ErofsError.isInstance(e)) throw e; // a MetaMiss: the walk is resumed after a read
      return false;
    }
  }

  /** Compressed size in blocks of the pcluster headed by `head`. */
  compressedBlocks(head: Lcluster): number {
    const big1 = (this.advise & ADVISE.BIG_PCLUSTER_1) !== 0;
    const big2 = (this.advise & ADVISE.BIG_PCLUSTER_2) !== 0;
    const lcn = head.lcn + 1;
    if (
      (head.type === LCLUSTER.HEAD1 && !big1) ||
      ((head.type === LCLUSTER.PLAIN || head.type === LCLUSTER.HEAD2) && !big2) ||
      lcn * this.lclusterSize >= this.inode.size
    ) {
      return 1;
    }
    const next = this.load(lcn, false);
    if (next.type === LCLUSTER.NONHEAD && next.delta0 !== 1) throw corrupted(`bogus compressed block count at lcluster ${lcn}`, this.where);
    // A head followed by anything but a block count (another head, or a NONHEAD lcluster
    // without the count) heads a one-block pcluster: the kernel (6.18 here) reads both so,
    // where fsck.erofs 1.9 refuses the second. mkfs.erofs 1.9 writes it for zstd with
    // --max-extent-bytes below the pcluster size.
    return next.compressedBlocks || 1;
  }

  /**
   * Where the extent from `la` (its head's start) ends: at the next head (`atHead`), or
   * at the end of the file when no head follows.
   */
  decompressedEnd(head: Lcluster, la: number): { end: number; atHead: boolean } {
    const size = this.lclusterSize;
    const headLcn = Math.floor(la / size);
    let lcn = head.lcn;
    const maxLcn = Math.ceil(this.inode.size / size);
    // An extent longer than PCLUSTER_MAX_DSIZE is refused anyway (mapCompressed): stop
    // looking for its end there, not at a corrupt i_size (2^40 bytes would be 2^28 loads).
    const lastLcn = headLcn + this.maxExtentLclusters;
    for (;;) {
      if (lcn * size >= this.inode.size) return { end: this.inode.size, atHead: false };
      if (lcn > maxLcn) throw corrupted("extent runs past the end of file", this.where);
      if (lcn > lastLcn) throw unsupported(`extent at lcluster ${headLcn} decodes to more than ${PCLUSTER_MAX_DSIZE} bytes`, this.where);
      const l = this.load(lcn, true);
      if (l.type === LCLUSTER.NONHEAD) {
        // Old mkfs wrote 0 here; the kernel treats it as 1.
        lcn += l.delta1 || 1;
      } else {
        if (lcn !== headLcn) return { end: lcn * size + l.clusterofs, atHead: true };
        lcn += 1;
      }
    }
  }
}

/** The head lcluster of the extent holding byte `ofs`, its logical start and the extent end seen so far. */
export function findHead(walk: LclusterWalk, ofs: number): HeadFound {
  const size = walk.lclusterSize;
  return findHeadIn(walk, Math.floor(ofs / size), ofs % size);
}

/**
 * findHead for the last byte of the file, which may lie past 2^53 (i_size is any 63-bit
 * value): its lcluster and offset in it, exactly, from sizeBig.
 */
export function findTailHead(walk: LclusterWalk): HeadFound {
  const last = walk.inode.sizeBig - 1n;
  const bits = BigInt(walk.lclusterBits);
  return findHeadIn(walk, Number(last >> bits), Number(last & ((1n << bits) - 1n)));
}

export type HeadFound = { head: Lcluster; first: Lcluster; la: number; end: number; fullMapped: boolean };

/** The head lcluster of the extent holding byte `endoff` of lcluster `initialLcn`. */
function findHeadIn(walk: LclusterWalk, initialLcn: number, endoff: number): HeadFound {
  const size = walk.lclusterSize;
  const first = walk.load(initialLcn, false);
  let end = (first.lcn + 1) * size;
  switch (first.type) {
    case LCLUSTER.PLAIN:
    case LCLUSTER.HEAD1:
    case LCLUSTER.HEAD2: {
      if (endoff >= first.clusterofs) {
        return { head: first, first, la: first.lcn * size + first.clusterofs, end, fullMapped: false };
      }
      if (first.lcn === 0) throw corrupted("logical cluster 0 starts after its own data", walk.where);
      end = first.lcn * size + first.clusterofs;
      const head = walk.lookback(first, 1);
      return { head, first, la: head.lcn * size + head.clusterofs, end, fullMapped: true };
    }
    case LCLUSTER.NONHEAD: {
      const head = walk.lookback(first, first.delta0);
      return { head, first, la: head.lcn * size + head.clusterofs, end, fullMapped: false };
    }
    default:
      throw unsupported(`unknown lcluster type ${first.type}`, walk.where);
  }
}

