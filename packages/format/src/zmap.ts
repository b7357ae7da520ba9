import { COMPRESSION, COMPRESSION_MAX, DATALAYOUT, INCOMPAT } from "./constants.js";
import { ErofsError, corrupted, unsupported } from "./errors.js";
import { nidWhere, type Inode } from "./inode.js";
import { LclusterWalk, findHead, findTailHead, lclusterIndexRange, type HeadFound, type Lcluster } from "./lcluster-walk.js";
import { settle, tryInMemory, type MetaPeek, type MetaRead, type MetaSpan, type MetaWindow } from "./meta-window.js";
import { ByteReader } from "./reader.js";
import { hasIncompat, type Superblock } from "./superblock.js";
import { ADVISE, ALG_INTERLACED, ALG_SHIFTED, LCLUSTER, PCLUSTER_MAX_DSIZE, PCLUSTER_MAX_SIZE, headerOffset } from "./zmap-layout.js";
import { joinWords, pow2 } from "./words.js";

export { ADVISE, ALG_INTERLACED, ALG_SHIFTED, LCLUSTER, headerOffset } from "./zmap-layout.js";
export type { MetaPeek, MetaRead, MetaSpan } from "./meta-window.js";

/**
 * Compressed-file mapping: struct z_erofs_map_header (8 bytes after the inode and its
 * xattrs, 8-byte aligned), then either full lcluster indexes (struct
 * z_erofs_lcluster_index, 8 bytes each), compact 4B/2B packs, or (48-bit layout)
 * encoded extents (struct z_erofs_extent, 4..32 byte records). The walk over lcluster
 * indexes is in lcluster-walk.ts.
 */

/** Encoded-extent records read per metadata read when scanning 4-byte records. */
const EXTENT_BATCH = 1024;

/** Bytes per encoded-extent record: 4, 8, 16 or 32 (Z_EROFS_ADVISE_EXTRECSZ). */
function extentRecordSize(advise: number): number {
  return 4 << ((advise >> 1) & 3);
}

/** 4-byte extent records summed between two kept running starts (see runningStarts). */
const RUNNING_STEP = 64;

/**
 * For inodes mapped by 4-byte extent records: the physical start of every RUNNING_STEP-th
 * record, as far as mappings have summed them (index k: record k × RUNNING_STEP). 8 bytes
 * per 64 records, 1/32 of the records themselves.
 */
const runningStarts = new WeakMap<ZInfo, number[]>();

const EXTENT_PLEN_PARTIAL = 1 << 27;
const EXTENT_PLEN_FMT_BIT = 28;
const EXTENT_PLEN_MASK = (PCLUSTER_MAX_SIZE << 1) - 1;

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
  /**
   * The inode maps through encoded extents (the 48-bit layout's z_erofs_extent records,
   * full layout with the EXTENTS advise bit) instead of lcluster indexes.
   */
  readonly encodedExtents: boolean;
  /**
   * Encoded-extent count, from the header: only 16- and 32-byte records carry one. The
   * 4- and 8-byte records are one per lcluster, so the header holds the lcluster size
   * there instead, and this is 0.
   */
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
  /**
   * The kernel's EROFS_MAP_FULL_MAPPED as a read that reaches this extent's end sees it:
   * a read that ends here decodes the pcluster whole, its stream's end checked, only
   * when this is set. For lcluster indexes that is an extent ending where the next head
   * starts inside its lcluster (clusterofs > 0); one ending on an lcluster boundary or at
   * the end of the file is decoded as a prefix, whatever the stream holds after it.
   */
  readonly fullMapped: boolean;
  /**
   * A hole of the 48-bit layout's search that found no record at or below the byte mapped:
   * every byte from here up to `logical` maps the same way (the search takes the same path
   * for any of them), each to a hole starting at that byte. A reader mapping a page part by
   * part from its end, as the kernel does (one map a byte there), may take the whole run at
   * once: its bytes read as zeros either way.
   */
  readonly holeRunStart?: number;
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/**
 * Reads the map header and, for tail-packed or fragment tails, where the tail extent
 * starts. `peek` (optional) gives metadata already in memory without a read.
 */
export async function loadZInfo(inode: Inode, sb: Superblock, read: MetaRead, peek?: MetaPeek): Promise<ZInfo> {
  const header = headerFacts(inode, sb, await read(headerOffset(inode), 8));
  if (!hasTailExtent(header)) return header;
  const found = await settle(tailWalk(inode, sb, header), read, peek, () => lclusterIndexRange(inode, sb, header.advise, header.lclusterBits));
  return withTailExtent(inode, sb, header, found);
}

/**
 * loadZInfo without a promise, when the map header and the tail extent's indexes are in
 * memory (`peek`); undefined when loadZInfo must read. It throws where loadZInfo throws.
 */
export function loadZInfoInMemory(inode: Inode, sb: Superblock, peek: MetaPeek): ZInfo | undefined {
  const span: MetaSpan = { bytes: EMPTY_BYTES, start: 0 };
  const at = headerOffset(inode);
  if (!peek(at, 8, span)) return undefined;
  const header = headerFacts(inode, sb, span.bytes.subarray(at - span.start, at - span.start + 8));
  if (!hasTailExtent(header)) return header;
  const found = tryInMemory(tailWalk(inode, sb, header), peek);
  return found && withTailExtent(inode, sb, header, found);
}

const EMPTY_BYTES = new Uint8Array(0);

/** What the 8-byte map header says; a tail extent's head, if any, is still to be found (withTailExtent). */
function headerFacts(inode: Inode, sb: Superblock, bytes: Uint8Array): ZInfo {
  const where = `nid ${inode.nid}`;
  const h = new ByteReader(bytes, `map header of ${where}`);
  if (h.u8(7) & 0x80) {
    // Whole file in the packed inode: the other 63 bits are its offset there.
    // An offset past 2^53 is past any packed inode, where the kernel reads zeros: kept as
    // the largest exact number, still past it.
    const off = bigMin(h.u64(0) ^ (1n << 63n), BigInt(Number.MAX_SAFE_INTEGER));
    return {
      advise: ADVISE.FRAGMENT_PCLUSTER, lclusterBits: sb.blockSizeBits, algorithms: [0, 0], wholeFragment: true,
      fragmentOffset: Number(off), idataSize: 0, idataOffset: 0, tailHeadLcn: 0, encodedExtents: false, extents: 0,
    };
  }
  const advise = h.u16(4);
  const lclusterBits = sb.blockSizeBits + (h.u8(7) & 15);
  if (inode.datalayout === DATALAYOUT.COMPRESSED_FULL && advise & ADVISE.EXTENTS) {
    const extents = extentRecordSize(advise) > 8 ? joinWords(h.u32(0), h.u16(6)) : 0;
    return {
      advise, lclusterBits, algorithms: [0, 0], wholeFragment: false, fragmentOffset: 0, idataSize: 0,
      idataOffset: 0, tailHeadLcn: -1, encodedExtents: true, extents,
    };
  }
  const algType = h.u8(6);
  const algorithms: [number, number] = [algType & 15, algType >> 4];
  let fragmentOffset = 0;
  let idataSize = 0;
  if (advise & ADVISE.FRAGMENT_PCLUSTER) fragmentOffset = h.u32(0);
  else if (advise & ADVISE.INLINE_PCLUSTER) idataSize = h.u16(2);
  if (advise & (ADVISE.BIG_PCLUSTER_1 | ADVISE.BIG_PCLUSTER_2) && !hasIncompat(sb, INCOMPAT.BIG_PCLUSTER)) {
    throw corrupted("big pclusters without the superblock's feature", where);
  }
  if (inode.datalayout === DATALAYOUT.COMPRESSED_COMPACT && !(advise & ADVISE.BIG_PCLUSTER_1) !== !(advise & ADVISE.BIG_PCLUSTER_2)) {
    throw corrupted("inconsistent big pcluster flags for compact indexes", where);
  }
  if (lclusterBits > 30) throw corrupted(`lcluster bits ${lclusterBits}`, where);
  if ((idataSize || advise & ADVISE.FRAGMENT_PCLUSTER) && inode.size === 0) throw corrupted("empty file with a tail extent", where);
  return { advise, lclusterBits, algorithms, wholeFragment: false, fragmentOffset, idataSize, idataOffset: 0, tailHeadLcn: -1, encodedExtents: false, extents: 0 };
}

/** Whether the header leaves a tail extent (inline or fragment) whose head must be found. */
function hasTailExtent(z: ZInfo): boolean {
  return !z.wholeFragment && !z.encodedExtents && (z.idataSize !== 0 || (z.advise & ADVISE.FRAGMENT_PCLUSTER) !== 0);
}

function tailWalk(inode: Inode, sb: Superblock, z: ZInfo): (meta: MetaWindow) => HeadFound {
  return (meta) => findTailHead(new LclusterWalk(inode, sb, z.advise, z.lclusterBits, meta));
}

/** The header's facts completed with the tail extent found from its last lcluster. */
function withTailExtent(inode: Inode, sb: Superblock, z: ZInfo, found: HeadFound): ZInfo {
  const { head, first } = found;
  const idataOffset = z.idataSize ? first.nextPackOffset : 0;
  checkTailExtent(inode, sb, { idataSize: z.idataSize, idataOffset }, found);
  let fragmentOffset = z.fragmentOffset;
  if (z.advise & ADVISE.FRAGMENT_PCLUSTER && inode.datalayout === DATALAYOUT.COMPRESSED_FULL) {
    // Full indexes keep a 64-bit fragment offset: the high half in the head's blkaddr.
    fragmentOffset = Math.min(joinWords(fragmentOffset, head.pblk), Number.MAX_SAFE_INTEGER);
  }
  const { advise, lclusterBits, algorithms, idataSize } = z;
  return { advise, lclusterBits, algorithms, wholeFragment: false, fragmentOffset, idataSize, idataOffset, tailHeadLcn: head.lcn, encodedExtents: false, extents: 0 };
}

/**
 * How the kernel maps an inode's bytes, which decides what a damaged lcluster index maps
 * to (a sound one maps the same every way):
 * - "readahead" (reading a file): pages in batches, and an extent once mapped serves
 *   every page it covers, so an extent is the walk on from its head;
 * - "page" (reading the packed inode and the metabox, a page at a time): each lcluster
 *   is mapped through its own lookback, so one that leads to another head is not part of
 *   the extent walked over it. LZMA, DEFLATE and Zstandard extents of a block or more
 *   are the exception: mapped to their end at once (READMORE), they serve every page;
 * - "report" (FIEMAP: where bytes lie, not reading them): an extent runs from its head to
 *   the next head, and a failure to walk there fails the map. A stored (PLAIN) pcluster
 *   is checked only against the lcluster mapped, not against that whole length, and a
 *   48-bit layout's record is searched for the byte asked, not its page's last.
 */
export type ReadMode = "readahead" | "page" | "report";

/**
 * The extent containing logical byte `ofs` of a compressed inode, extended to the
 * extent's full decoded length (so a pcluster is decoded once for all its pages).
 * `peek` (optional) gives metadata already in memory: lcluster indexes found there are
 * walked without a read.
 */
export async function mapCompressed(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead, peek?: MetaPeek, mode: ReadMode = "readahead"): Promise<ZExtent> {
  const trivial = trivialExtent(inode, z, ofs);
  if (trivial) return trivial;
  if (z.encodedExtents) {
    const ext = mode === "report" ? await searchEncodedExtents(inode, sb, z, ofs, read) : await mapEncodedExtents(inode, sb, z, ofs, read);
    return checkedExtent(inode, sb, ofs, ext);
  }
  const bounds = () => lclusterIndexRange(inode, sb, z.advise, z.lclusterBits);
  return checkedExtent(inode, sb, ofs, await settle((meta) => mapIndexed(inode, sb, z, ofs, meta, mode), read, peek, bounds));
}

/**
 * mapCompressed, for callers that map often: the extent, when every index it needs is in
 * memory (`peek`), without a promise; undefined when mapCompressed must read.
 */
export function mapCompressedInMemory(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, peek: MetaPeek, mode: ReadMode = "readahead"): ZExtent | undefined {
  const trivial = trivialExtent(inode, z, ofs);
  if (trivial) return trivial;
  if (z.encodedExtents) return undefined;
  const ext = tryInMemory((meta) => mapIndexed(inode, sb, z, ofs, meta, mode), peek);
  return ext && checkedExtent(inode, sb, ofs, ext);
}

/** Past the end, or a whole-file fragment: extents known without an index. */
function trivialExtent(inode: Inode, z: ZInfo, ofs: number): ZExtent | undefined {
  if (ofs >= inode.size) {
    return { logical: inode.size, length: 0, kind: "hole", physical: 0, physicalLength: 0, algorithm: 0, partialRef: false, fullMapped: true };
  }
  // A fragment tail whose head is lcluster 0 is the whole file too: the kernel then maps
  // every byte to it without reading the index again, even bytes before that head's
  // cluster offset (a damaged one), which an indexed map refuses.
  if (z.wholeFragment || (z.tailHeadLcn === 0 && z.advise & ADVISE.FRAGMENT_PCLUSTER)) {
    return { logical: 0, length: inode.size, kind: "fragment", physical: z.fragmentOffset, physicalLength: inode.size, algorithm: 0, partialRef: false, fullMapped: true };
  }
  return undefined;
}

/**
 * The checks the kernel makes of the tail extent when it first maps the inode: a failure
 * there fails every later map of the inode, whatever byte it is for (on a kernel mount,
 * every page of the file). A stored (PLAIN) tail longer than its pcluster: for an inline
 * tail, longer than the inline bytes; for a fragment tail, whose map the kernel gives no
 * pcluster at all, of any length. An inline tail crossing a block. Its algorithm is not
 * checked here: kernel 6.18 checks algorithms per map of a pcluster (checkedExtent), so a
 * fragment tail, which has none, reads whatever its head's algorithm.
 */
function checkTailExtent(inode: Inode, sb: Superblock, z: Pick<ZInfo, "idataSize" | "idataOffset">, found: HeadFound): void {
  const where = nidWhere(inode);
  const { head } = found;
  const end = narrowEnd(inode, z, found);
  if (z.idataSize && (z.idataOffset % sb.blockSize) + z.idataSize > sb.blockSize) {
    throw corrupted(`inline pcluster of ${z.idataSize} bytes crosses a block`, where);
  }
  if (head.type === LCLUSTER.PLAIN && end - found.la > z.idataSize) throw corrupted("plain tail extent longer than its pcluster", where);
}

/** A known algorithm the superblock does not enable is corruption; an unknown one, unsupported. */
function checkAlgorithm(inode: Inode, sb: Superblock, algorithm: number): void {
  if (algorithm < COMPRESSION_MAX && !(sb.compression.availableAlgorithms & (1 << algorithm))) {
    throw corrupted(`algorithm ${algorithm} not enabled in the superblock`, nidWhere(inode));
  }
  if (algorithm > ALG_INTERLACED) throw unsupported(`unknown compression algorithm ${algorithm}`, nidWhere(inode));
}

/**
 * The extent, once checked against what the superblock and the kernel allow: a pcluster's
 * (encoded or inline; the kernel's EROFS_MAP_ENCODED maps) algorithm and sizes.
 */
function checkedExtent(inode: Inode, sb: Superblock, ofs: number, ext: ZExtent): ZExtent {
  if (ext.kind === "encoded" || ext.kind === "inline") {
    checkAlgorithm(inode, sb, ext.algorithm);
    if (ext.physicalLength > PCLUSTER_MAX_SIZE || ext.length > PCLUSTER_MAX_DSIZE) {
      throw unsupported(`pcluster of ${ext.physicalLength} bytes decoding to ${ext.length}`, nidWhere(inode));
    }
  }
  if (ext.length <= 0 || ext.logical > ofs || ext.logical + ext.length <= ofs) {
    throw corrupted(`extent [${ext.logical}, +${ext.length}) does not cover ${ofs}`, nidWhere(inode));
  }
  return ext;
}

function mapIndexed(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, meta: MetaWindow, mode: ReadMode): ZExtent {
  const walk = new LclusterWalk(inode, sb, z.advise, z.lclusterBits, meta);
  const found = findHead(walk, ofs);
  const { head } = found;
  let { end, atHead } =
    mode === "report" ? walk.decompressedEnd(head, found.la) : found.fullMapped ? { end: found.end, atHead: true } : extentEnd(walk, found, ofs);
  if (mode === "page" && !mappedToEndAtOnce(inode, sb, z, found)) {
    const foreign = foreignLcluster(walk, found, ofs, end);
    if (foreign !== undefined) [end, atHead] = [foreign * walk.lclusterSize, false];
  }
  // A read reaching a head inside an lcluster maps the extent whole (the kernel's
  // EROFS_MAP_FULL_MAPPED), also where that head sits at the end of the file: only a
  // head past it is never reached.
  const fullMapped = atHead && end <= inode.size && end % walk.lclusterSize !== 0;
  end = Math.min(end, inode.size);
  const la = found.la;
  let kind: ZExtentKind = "encoded";
  let physical: number;
  let physicalLength: number;
  if (z.idataSize && head.lcn === z.tailHeadLcn) {
    kind = "inline";
    // Where it lies was checked as loadZInfo found it (checkTailExtent).
    physical = z.idataOffset;
    physicalLength = z.idataSize;
  } else if (z.advise & ADVISE.FRAGMENT_PCLUSTER && head.lcn === z.tailHeadLcn) {
    return { logical: la, length: end - la, kind: "fragment", physical: z.fragmentOffset, physicalLength: end - la, algorithm: 0, partialRef: false, fullMapped: true };
  } else {
    physical = head.pblk * sb.blockSize;
    physicalLength = walk.compressedBlocks(head) * sb.blockSize;
  }
  const algorithm = headFormat(z, head);
  if (head.type === LCLUSTER.PLAIN) {
    // The kernel checks the extent as mapped for `ofs`, to the end of its lcluster and
    // not cut at the file's end (only a tail-packed one is): an lcluster wider than the
    // stored block fails even where the file ends inside the block.
    const narrow = narrowEnd(inode, z, found);
    if (narrow - la > physicalLength) throw corrupted("plain pcluster shorter than its extent", walk.where);
    if (end - la > physicalLength && mode !== "report") {
      // Only the lclusters up to `ofs` fit in the stored block: the kernel maps and reads
      // those, and fails the ones after.
      return { logical: la, length: Math.min(narrow, inode.size) - la, kind, physical, physicalLength, algorithm, partialRef: head.partialRef, fullMapped: false };
    }
  }
  return { logical: la, length: end - la, kind, physical, physicalLength, algorithm, partialRef: head.partialRef, fullMapped };
}

/**
 * Whether the kernel's read of the page holding byte `ofs` maps that byte's extent to its
 * end at once (READMORE): the kernel maps a read's last byte so, and decodes the whole
 * extent where this holds, only a prefix of it where not. A 48-bit layout's extents are
 * always mapped whole; indexed ones as mappedToEndAtOnce says. False past the end and for
 * a whole-file fragment, which have no pcluster.
 */
export async function readsMoreAt(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead, peek?: MetaPeek): Promise<boolean> {
  if (trivialExtent(inode, z, ofs)) return false;
  if (z.encodedExtents) return true;
  const bounds = () => lclusterIndexRange(inode, sb, z.advise, z.lclusterBits);
  const atOfs = (meta: MetaWindow) => mappedToEndAtOnce(inode, sb, z, findHead(new LclusterWalk(inode, sb, z.advise, z.lclusterBits, meta), ofs));
  return settle(atOfs, read, peek, bounds);
}

/**
 * Whether a page-at-a-time read maps this extent to its end at once (the kernel's
 * READMORE): an LZMA, DEFLATE or Zstandard one, at least a block long as mapped for `ofs`.
 */
function mappedToEndAtOnce(inode: Inode, sb: Superblock, z: ZInfo, found: HeadFound): boolean {
  return readsMoreFormat(headFormat(z, found.head)) && narrowEnd(inode, z, found) - found.la >= sb.blockSize;
}

/**
 * Whether the kernel's READMORE maps an extent of this format to its end when it reads a
 * page of it (LZMA, DEFLATE and Zstandard, whose pclusters cost most to decode again).
 */
export function readsMoreFormat(algorithm: number): boolean {
  return algorithm === COMPRESSION.LZMA || algorithm === COMPRESSION.DEFLATE || algorithm === COMPRESSION.ZSTD;
}

/** The format an extent headed by `head` decodes in: stored (shifted or interlaced), or HEAD1's or HEAD2's algorithm. */
function headFormat(z: ZInfo, head: Lcluster): number {
  if (head.type === LCLUSTER.PLAIN) return z.advise & ADVISE.INTERLACED_PCLUSTER ? ALG_INTERLACED : ALG_SHIFTED;
  return head.type === LCLUSTER.HEAD2 ? z.algorithms[1] : z.algorithms[0];
}

/**
 * The first lcluster after `ofs`'s inside the extent [found.la, end) that a damaged index
 * maps elsewhere. Read a page at a time, each lcluster is mapped by looking back from it,
 * so such an lcluster reads another pcluster (or fails), whatever the walk on from the
 * head says. (Pages before `ofs` are another matter: the kernel reads those that are not
 * cached yet along with `ofs`'s page, in its extent, whatever their own index says.)
 * A few lclusters per extent, from indexes in memory.
 */
function foreignLcluster(walk: LclusterWalk, found: HeadFound, ofs: number, end: number): number | undefined {
  const size = walk.lclusterSize;
  // An extent longer than the walk's bound is refused anyway (checkedExtent).
  const last = found.head.lcn + walk.maxExtentLclusters;
  for (let lcn = Math.floor(ofs / size) + 1; lcn * size < end && lcn <= last; lcn++) {
    if (!walk.looksBackTo(lcn, found.head) && !endsHere(walk, lcn, end)) return lcn;
  }
  return undefined;
}

/** Whether lcluster `lcn` holds the head that ends the extent at `end`: its bytes before that head are the extent's. */
function endsHere(walk: LclusterWalk, lcn: number, end: number): boolean {
  return Math.floor(end / walk.lclusterSize) === lcn && end % walk.lclusterSize !== 0;
}

/**
 * Where the kernel's map for `ofs` ends (z_erofs_do_map_blocks' m_llen): the end of the
 * lcluster holding `ofs`, or the head that starts within it, cut at i_size only for a
 * ztailpacking inode's head lcluster.
 */
function narrowEnd(inode: Inode, z: Pick<ZInfo, "idataSize">, found: HeadFound): number {
  const atHead = found.head === found.first && !found.fullMapped;
  return atHead && z.idataSize ? Math.min(found.end, inode.size) : found.end;
}

/**
 * Where the extent holding `ofs` ends: at the next head, found by walking the indexes on
 * from its head, so that a pcluster is decoded once for all of its pages. The kernel maps
 * a read only to the end of the lcluster holding `ofs` (found.end) and walks on only to
 * read more. Where the walk on fails (an index past a wrapped count, a damaged one) or
 * ends before `ofs` (a damaged head between), that narrower extent is what a kernel mount
 * reads, as a prefix of its pcluster.
 */
function extentEnd(walk: LclusterWalk, found: { head: Lcluster; la: number; end: number }, ofs: number): { end: number; atHead: boolean } {
  const narrow = { end: found.end, atHead: false };
  try {
    const walked = walk.decompressedEnd(found.head, found.la);
    return walked.end > ofs ? walked : narrow;
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e; // a MetaMiss: the walk is resumed after a read
    return narrow;
  }
}

/**
 * For inodes mapped by records of more than 8 bytes: the extents found so far walking one
 * page down from its last byte (see mapEncodedExtents), kept for the next map of that page.
 * The walk's steps depend on the page alone, not on the byte asked for, and a page is
 * mapped part by part from its end (as the kernel maps it), each part asking again: without
 * this, each part walked the chain from the page's end again, up to MAX_PAGE_PARTS searches
 * for every part. Fuzz mutant 742467: a file whose extent count reads 0 is a hole mapped a
 * byte at a time, 5.7 million searches for its 88 KB (~2 s); the kernel makes one map a part.
 */
const pageWalks = new WeakMap<ZInfo, { from: number; found: ZExtent[] }>();

/** The 48-bit layout's encoded extents (z_erofs_map_blocks_ext). */
async function mapEncodedExtents(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead): Promise<ZExtent> {
  if (extentRecordSize(z.advise) <= 8) return searchEncodedExtents(inode, sb, z, ofs, read);
  // The kernel maps a page from its last byte, then the part of it before the extent found
  // from that extent's first byte less one. Sound records give the same extent for any
  // byte of it; where repeated or misordered starts make the search stop early, the byte
  // searched for decides what it finds.
  const from = Math.min(inode.size - 1, ofs - (ofs % KERNEL_PAGE_SIZE) + KERNEL_PAGE_SIZE - 1);
  let walk = pageWalks.get(z);
  if (walk?.from !== from) pageWalks.set(z, (walk = { from, found: [] }));
  const found = walk.found;
  let key = from;
  let part = 0;
  // A search finds an extent starting at or below its key: each step starts lower.
  for (; part < found.length; part++) {
    const step = found[part]!;
    if (step.logical <= ofs) return step;
    const hole = ownHoleInRun(step, ofs);
    if (hole) return hole;
    key = step.logical - 1;
  }
  for (; part < MAX_PAGE_PARTS; part++) {
    const ext = await searchEncodedExtents(inode, sb, z, key, read);
    // A concurrent map of this page may have taken this step meanwhile (finding the same).
    if (found.length === part) found.push(ext);
    if (ext.logical <= ofs) return ext;
    const hole = ownHoleInRun(ext, ofs);
    if (hole) return hole;
    key = ext.logical - 1;
  }
  return searchEncodedExtents(inode, sb, z, ofs, read);
}

/**
 * The hole that mapping `ofs` finds when `step`, a hole above it, is part of a run reaching
 * down to it (holeRunStart): the steps from `step` to `ofs` are the run's one-byte holes,
 * and `ofs` starts its own, to the same end. Undefined otherwise.
 */
function ownHoleInRun(step: ZExtent, ofs: number): ZExtent | undefined {
  if (step.holeRunStart === undefined || step.holeRunStart > ofs) return undefined;
  return { ...step, logical: ofs, length: step.logical + step.length - ofs };
}

/** The page size of the kernel whose reads are followed (x86-64's). */
const KERNEL_PAGE_SIZE = 4096;
/** Parts of one page mapped before the byte asked for is searched for directly. */
const MAX_PAGE_PARTS = 64;

/** The encoded extent holding byte `ofs`, found as z_erofs_map_blocks_ext finds it. */
async function searchEncodedExtents(inode: Inode, sb: Superblock, z: ZInfo, ofs: number, read: MetaRead): Promise<ZExtent> {
  const where = `nid ${inode.nid}`;
  const recsz = extentRecordSize(z.advise);
  const base = Math.ceil((headerOffset(inode) + 8) / recsz) * recsz;
  const lsize = pow2(z.lclusterBits);
  let lend = inode.size;
  let lstart: number;
  let plen = 0;
  let pa = 0;
  let last: boolean;
  if (recsz <= 8) {
    // One record per lcluster: the one for `ofs` is record `want`.
    const want = Math.floor(ofs / lsize);
    let rec: number;
    let running: number | null = null;
    let starts: number[] | undefined;
    if (recsz <= 4) {
      // 4-byte records carry no start address: it is the running sum of the lengths before,
      // from the 64-bit start that precedes the records. Reaching `ofs` means summing every
      // record before it; the sums at every RUNNING_STEP-th record are kept per inode, so a
      // read sums at most that many wherever it lands.
      starts = runningStarts.get(z);
      if (!starts) {
        const r = new ByteReader(await read(base, 8), `extents of ${where}`);
        // Not refused past 2^53 (kept inexact there): the start is only used by a record
        // that maps a pcluster, which then lies past any device and reads EIO, as the
        // kernel's read of it does. A fragment's record never uses it, and reads (fuzz
        // mutant 532083: a map header read from far past its inode, its start garbage).
        starts = [joinWords(r.u32(0), r.u32(4))];
        runningStarts.set(z, starts);
      }
      const kept = Math.min(starts.length - 1, Math.floor(want / RUNNING_STEP));
      running = starts[kept]!;
      rec = kept * RUNNING_STEP;
    } else {
      rec = want;
    }
    let pos = base + (recsz <= 4 ? 8 : 0) + rec * recsz;
    lstart = rec * lsize;
    // Records are read a batch at a time (one metadata read per EXTENT_BATCH records, never
    // one range sized by the offset). There is one per lcluster up to `ofs` < i_size, and
    // reads past the end of the metadata fail: a corrupt i_size costs at most a scan of it.
    while (rec <= want) {
      const n = Math.min(EXTENT_BATCH, want - rec + 1);
      const r = new ByteReader(await read(pos, n * recsz), `extents of ${where}`);
      for (let i = 0; i < n; i++, rec++, lstart += lsize) {
        plen = r.u32(i * recsz);
        if (running !== null) {
          if (rec % RUNNING_STEP === 0 && rec / RUNNING_STEP === starts!.length) starts!.push(running);
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
    // Any count (48 bits) is searched, as the kernel searches it: in at most 48 reads, and
    // records past the metadata read as zeros (past 2^53 bytes, without a read).
    while (l < r) {
      const mid = l + Math.floor((r - l) / 2);
      const at = base + mid * recsz;
      const record = at > Number.MAX_SAFE_INTEGER - recsz ? new Uint8Array(recsz) : await read(at, recsz);
      const rd = new ByteReader(record, `extents of ${where}`);
      // struct z_erofs_extent: plen, pstart_lo, pstart_hi, lstart_lo, lstart_hi (if the record has room).
      let la = rd.u32(12);
      const p = joinWords(rd.u32(4), rd.u32(8));
      if (recsz > 16) la = joinWords(la, rd.u32(16));
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
    // No record at or below `ofs`, none below any smaller byte either: a run from 0.
    const run = recsz > 8 ? { holeRunStart: 0 } : {};
    return { logical: ofs, length: Math.max(1, lend - ofs), kind: "hole", physical: 0, physicalLength: 0, algorithm: 0, partialRef: false, fullMapped: true, ...run };
  }
  if (last && z.advise & ADVISE.FRAGMENT_PCLUSTER) {
    const fragmentOffset = joinWords(plen, recsz > 4 ? pa : 0);
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
