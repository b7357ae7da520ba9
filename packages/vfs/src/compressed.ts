import {
  ALG_INTERLACED,
  ALG_SHIFTED,
  ErofsError,
  INCOMPAT,
  corrupted,
  loadZInfo,
  loadZInfoInMemory,
  mapCompressed,
  mapCompressedInMemory,
  readsMoreAt,
  readsMoreFormat,
  nidWhere,
  pow2,
  unsupported,
  type MetaPeek,
  type MetaRead,
  type Inode,
  type ReadMode,
  type ZExtent,
  type ZInfo,
} from "@erofs-ts/format";
import { readView } from "@erofs-ts/blockdev";
import { PAGE_SIZE } from "@erofs-ts/ishare-cache";
import {
  Z_EROFS_COMPRESSION_DEFLATE,
  Z_EROFS_COMPRESSION_LZ4,
  Z_EROFS_COMPRESSION_LZMA,
  Z_EROFS_COMPRESSION_ZSTD,
  createDecompressor,
  shortStreamLength,
  type Decompressor,
  type DecompressorConfig,
} from "@erofs-ts/decompress";
import type { MountContext } from "./context.js";
import { DecodePool } from "./decode-pool.js";
import { readData, resolveDevice } from "./data-path.js";
import { FillSources } from "./fill-sources.js";
import { KernelPages } from "./kernel-pages.js";
import { lruSet } from "./lru.js";
import { inodeMetadataInMemory, metadataEnd, peekInodeMetadata, readInodeMetadata } from "./metadata.js";
import { PclusterFormats } from "./pcluster-formats.js";

/**
 * Per-mount state of the compressed read path: inodes' map headers, decoders, and a
 * small budget of recently decoded extents (zstd and deflate, whose decoders cannot stop
 * early) so the page straddling two extents does not cost a second decode of its
 * neighbour during sequential reads.
 */
export class CompressedState {
  readonly zinfo = new Map<bigint, ZInfo>();
  readonly decoders = new Map<number, Decompressor>();
  readonly recent = new Map<string, Uint8Array>();
  recentBytes = 0;
  /** Decodes that failed, by pcluster and request, oldest first (see decodeStored). */
  readonly failedDecodes = new Map<string, ErofsError>();
  /** Decodes that succeeded, the same way, while failed ones are known (see knownOutcome). */
  readonly decodedFine = new Set<string>();
  /** Addresses of the DEFLATE pclusters taken short, as the kernel takes them (see decodeDeflateAsKernel). */
  readonly shortStreams = new Set<number>();
  /**
   * Per inode, the page a wider fill's failed decode starts in, until the fill as asked
   * that follows takes it: the kernel's read fails there in its readahead, and then reads
   * that page alone (see keepReadFolio).
   */
  readonly readaheadFailedAt = new Map<bigint, number>();
  /** The image's decoder settings, as sent to decode workers. */
  settings: { config: DecompressorConfig; key: string } | undefined;
  /** The last extents mapped (see extentInMemory), a ring: their inodes and the extents. */
  readonly mappedNids: (bigint | undefined)[] = new Array<bigint | undefined>(MAPPED_EXTENTS);
  readonly mapped: (ZExtent | undefined)[] = new Array<ZExtent | undefined>(MAPPED_EXTENTS);
  mappedNext = 0;
  /**
   * A peek at the metadata of `peekInode`, set just before each synchronous walk (see
   * walkPeek): the walks share one closure instead of making one each.
   */
  peek: MetaPeek | undefined;
  peekInode: Inode | undefined;
  /** The pclusters the kernel keeps between reads, and their formats (see PclusterFormats). */
  readonly formats = new PclusterFormats();
  /** Per page-at-a-time inode, the pages a kernel mount would hold by now (see KernelPages). */
  readonly kernelPages = new Map<bigint, KernelPages>();
  /** Per page-at-a-time inode, the extent each page filled was decoded from (see FillSources). */
  readonly fillSources = new Map<bigint, FillSources>();
  constructor(readonly recentBudget: number) {}
}

/** Keeps the pcluster of each extent in its format, unless one is kept at its address already. */
function keepFormats(st: CompressedState, extents: readonly ZExtent[]): void {
  for (const ext of extents) st.formats.keep(ext.physical, ext.algorithm, ext.physicalLength);
}

/**
 * Whether the kernel keeps the pcluster of an extent its read maps: its compressed pages
 * are cached (cache_strategy readaround, the default) when the map does not know where
 * the extent ends, or the extent starts before the read (which may want it again); a
 * pcluster with cached pages stays after its decode, the others are freed with it.
 * `asked` is what the read asked for, page-aligned, before the fill was widened to whole
 * extents: the kernel maps only the extents of its window, so only those count.
 */
function keptByKernel(ext: ZExtent, asked: readonly [number, number]): boolean {
  const [from, to] = asked;
  if (ext.kind !== "encoded" || ext.logical >= to || ext.logical + ext.length <= from) return false;
  return !ext.fullMapped || ext.logical < from;
}

/**
 * Whether the kernel's read_folio of the page at `pageStart` keeps the pcluster of `ext`,
 * the extent holding that page's last byte. That read maps the byte first (READMORE), and
 * the map is not FULL_MAPPED unless the byte's lcluster is the next extent's head, before
 * its cluster offset, or READMORE maps the extent to its end (LZMA, DEFLATE, Zstandard, a
 * block or more as first mapped). A pcluster mapped so has its compressed pages cached,
 * and stays after its decode, failed or not. Real mutant 536535 (app-a-zstd, a word of
 * zh-cn's compact index): page 44 of zh-cn holds the head lcluster of a one-block
 * Zstandard extent whose block is the first of zh-tw's 64 KiB pcluster; zh-cn's
 * read_folio(44) keeps it, and zh-tw's read, decoding that pcluster as one block, fails
 * at 0 on a kernel mount (EUCLEAN).
 */
async function readFolioKeepsTop(ctx: MountContext, inode: Inode, ext: ZExtent, pageStart: number): Promise<boolean> {
  if (ext.kind !== "encoded") return false;
  const lastByte = pageLastByte(inode, pageStart / PAGE_SIZE);
  const extEnd = ext.logical + ext.length;
  if (ext.logical > lastByte || extEnd <= lastByte) return false;
  const z = await zinfoOf(ctx, inode);
  if (z.encodedExtents) return false;
  const lcluster = pow2(z.lclusterBits);
  const endsInByteLcluster = Math.floor(extEnd / lcluster) === Math.floor(lastByte / lcluster) && extEnd % lcluster !== 0;
  if (ext.fullMapped && endsInByteLcluster) return false;
  return !(await readsMoreAtByte(ctx, inode, lastByte));
}

/**
 * The error of a read that maps one pcluster in two formats, once the pcluster is kept in
 * the later extent's format, as the kernel's backward scan makes it: a reader that retries
 * page by page after the error (the kernel, above FUSE) then has both extents decoded in
 * that one format, not each in its own.
 */
function mixedFormatKept(st: CompressedState, inode: Inode, first: ZExtent, second: ZExtent): ErofsError {
  st.formats.replace(second.physical, second.algorithm, second.physicalLength);
  return mixedFormatError(inode, first, second);
}

/** `ext` as the kernel decodes it: in the format, and from the bytes, of the pcluster it keeps at that address. */
function inKeptFormat(st: CompressedState, ext: ZExtent): ZExtent {
  const kept = st.formats.get(ext.physical);
  if (kept === undefined || (kept.format === ext.algorithm && kept.length === ext.physicalLength)) return ext;
  return { ...ext, algorithm: kept.format, physicalLength: kept.length };
}

/**
 * The kernel's answer to a read of both extents: it scans a read from its end backwards,
 * so the later extent sets the pcluster's format. Stored, that pcluster may not decode to
 * more than it holds, and the longer extent asks for more: EOPNOTSUPP (measured on
 * fixtures/zstd-mixed-pcluster.erofs). A codec fails on the other extent's length instead.
 */
function mixedFormatError(inode: Inode, first: ZExtent, second: ZExtent): ErofsError {
  const message = `pcluster at ${second.physical} holds extents of two formats`;
  const stored = second.algorithm === ALG_SHIFTED || second.algorithm === ALG_INTERLACED;
  if (stored && Math.max(first.length, second.length) > second.physicalLength) return unsupported(message, nidWhere(inode));
  return corrupted(message, nidWhere(inode));
}

/**
 * Extents remembered per mount. A sequential read maps each extent two or three times
 * (the fill's bounds, its extents, the next fill's bounds), and every mapping walks the
 * compressed index lcluster by lcluster; a few recent ones cover that, also for a few
 * files read at once.
 */
const MAPPED_EXTENTS = 16;

/** What the recent-extent cache holds (ErofsFs.cacheStats). */
export interface DecodedExtentStats {
  extents: number;
  bytes: number;
  budgetBytes: number;
}

const ZINFO_ENTRIES = 16384;

async function zinfoOf(ctx: MountContext, inode: Inode): Promise<ZInfo> {
  return ctx.compressed.zinfo.get(inode.nid) ?? keepZInfo(ctx, inode, await loadZInfo(inode, ctx.sb, ...metadataAccess(ctx, inode)));
}

/**
 * zinfoOf without a promise, when the map header (and the tail extent's indexes) are in
 * memory, as they mostly are: the inode's block was just read for iget. Undefined when
 * they must be read, and also when they are damaged: zinfoOf then reads them again and
 * fails there, as it always has.
 */
function zinfoInMemory(ctx: MountContext, inode: Inode): ZInfo | undefined {
  const known = ctx.compressed.zinfo.get(inode.nid);
  if (known) return known;
  let z: ZInfo | undefined;
  try {
    z = loadZInfoInMemory(inode, ctx.sb, walkPeek(ctx, inode));
  } catch (e) {
    if (ErofsError.isInstance(e)) return undefined;
    throw e;
  }
  return z && keepZInfo(ctx, inode, z);
}

function keepZInfo(ctx: MountContext, inode: Inode, z: ZInfo): ZInfo {
  // Kept in load order (hits do not refresh): the first loaded goes first.
  lruSet(ctx.compressed.zinfo, inode.nid, z, ZINFO_ENTRIES);
  return z;
}

/**
 * The extent of a compressed inode that holds logical byte `ofs`, mapped through its
 * lcluster indexes, read as needed. Callers try extentInMemory first; the mapping itself
 * walks what is in memory before it reads (see settle).
 */
async function extentAt(ctx: MountContext, inode: Inode, ofs: number): Promise<ZExtent> {
  return remember(ctx.compressed, inode, await extentMappedAfresh(ctx, inode, ofs));
}

/** extentAt without remembering the extent: a look that leaves the next mappings as they were. */
async function extentMappedAfresh(ctx: MountContext, inode: Inode, ofs: number): Promise<ZExtent> {
  const z = await zinfoOf(ctx, inode);
  return mapCompressed(inode, ctx.sb, z, ofs, ...metadataAccess(ctx, inode), readMode(ctx, inode));
}

/**
 * The extent holding `ofs` as the kernel's FIEMAP reports it (format's "report" mode),
 * not remembered: reads map damaged indexes their own way.
 */
export async function extentReportedAt(ctx: MountContext, inode: Inode, ofs: number): Promise<ZExtent> {
  const z = await zinfoOf(ctx, inode);
  return mapCompressed(inode, ctx.sb, z, ofs, ...metadataAccess(ctx, inode), "report");
}

/**
 * The extent holding `ofs` without a promise, when no read is needed: a recently mapped
 * extent (unless `recent` is false), or one whose lcluster indexes are cached (most of a
 * sequential read's), else undefined (then extentAt).
 */
function extentInMemory(ctx: MountContext, inode: Inode, ofs: number, recent = true): ZExtent | undefined {
  // An extent is a function of its head lcluster alone, so one that covers `ofs` is what
  // mapping `ofs` again would return (the image never changes). On a damaged index an
  // extent may be mapped short (format's extentEnd): a remembered one that covers `ofs`
  // is then used as it is, as the kernel keeps using a map that covers the page it reads.
  const st = ctx.compressed;
  for (let i = 0; recent && i < MAPPED_EXTENTS; i++) {
    const e = st.mapped[i];
    if (e && st.mappedNids[i] === inode.nid && e.logical <= ofs && ofs < e.logical + e.length) return e;
  }
  const z = zinfoInMemory(ctx, inode);
  if (!z) return undefined;
  const ext = mapCompressedInMemory(inode, ctx.sb, z, ofs, walkPeek(ctx, inode), readMode(ctx, inode));
  return ext && remember(st, inode, ext);
}

/** The kernel reads the packed inode and the metabox a page at a time (erofs_bread), files by readahead. */
function readMode(ctx: MountContext, inode: Inode): ReadMode {
  return pageAtATime(ctx, inode) ? "page" : "readahead";
}

export function pageAtATime(ctx: MountContext, inode: Inode): boolean {
  return inode.nid === ctx.packed?.nid || inode.nid === ctx.metabox?.nid;
}

/**
 * How a mapping that may await reads the inode's metadata and peeks at it in memory. Its
 * own closures: a walk resumed after a read must still see this inode (see walkPeek).
 */
function metadataAccess(ctx: MountContext, inode: Inode): [MetaRead, MetaPeek] {
  return [(o, l) => readInodeMetadata(ctx, inode, o, l), (o, l, into) => peekInodeMetadata(ctx, inode, o, l, into)];
}

/** A peek at the inode's metadata for one synchronous walk (not kept across an await). */
function walkPeek(ctx: MountContext, inode: Inode): MetaPeek {
  const st = ctx.compressed;
  st.peekInode = inode;
  return (st.peek ??= (offset, length, into) => peekInodeMetadata(ctx, st.peekInode!, offset, length, into));
}

function remember(st: CompressedState, inode: Inode, ext: ZExtent): ZExtent {
  st.mappedNids[st.mappedNext] = inode.nid;
  st.mapped[st.mappedNext] = ext;
  st.mappedNext = (st.mappedNext + 1) % MAPPED_EXTENTS;
  return ext;
}

/**
 * Page-aligned bounds covering every extent that overlaps [start, end): filling those
 * pages decodes each pcluster once, as the kernel fills all pages a pcluster decodes to.
 * Without a promise when both extents are known without a read (most fills).
 */
export function extentBounds(ctx: MountContext, inode: Inode, start: number, end: number, pageSize: number): [number, number] | Promise<[number, number]> {
  const first = extentInMemory(ctx, inode, start);
  if (first && end - 1 < first.logical + first.length) return boundsOf(inode, first, first, start, end, pageSize);
  const last = first && extentInMemory(ctx, inode, end - 1);
  if (first && last) return boundsOf(inode, first, last, start, end, pageSize);
  return boundsRead(ctx, inode, first, start, end, pageSize);
}

/** extentBounds once a read is needed: `known` is the first extent if it was in memory. */
async function boundsRead(ctx: MountContext, inode: Inode, known: ZExtent | undefined, start: number, end: number, pageSize: number): Promise<[number, number]> {
  const first = known ?? (await extentAt(ctx, inode, start));
  if (end - 1 < first.logical + first.length) return boundsOf(inode, first, first, start, end, pageSize);
  // With the first extent in memory, the last was looked for there already.
  const last = (known ? undefined : extentInMemory(ctx, inode, end - 1)) ?? (await extentAt(ctx, inode, end - 1));
  return boundsOf(inode, first, last, start, end, pageSize);
}

function boundsOf(inode: Inode, first: ZExtent, last: ZExtent, start: number, end: number, pageSize: number): [number, number] {
  // Only extents decoded as a whole widen the fill (mapCompressed bounds their length);
  // holes and fragments can claim any length and are read for the asked range only.
  const from = decodedWhole(first) ? Math.floor(first.logical / pageSize) * pageSize : start;
  const to = decodedWhole(last) ? Math.min(inode.size, Math.ceil((last.logical + last.length) / pageSize) * pageSize) : end;
  return [Math.min(from, start), Math.max(to, end)];
}

function isEncoded(ext: ZExtent): boolean {
  return ext.kind === "encoded";
}

function decodedWhole(ext: ZExtent): boolean {
  return ext.kind === "encoded" || ext.kind === "inline";
}

/** Largest single read of adjacent pclusters (bounds the buffer one fill allocates). */
const MAX_BATCH_READ = 4 << 20;

/**
 * The exact bytes [start, end) of a compressed file (or from `needFrom` on: bytes before it
 * are left zero, for pages the caller already has). The extents are mapped first, so
 * that adjacent pclusters are read from the device in one call (a file's pclusters are
 * usually contiguous: one read instead of one per 4 KiB), then decoded: straight into
 * the output when the extent lies inside the range, else through the recent-extent cache
 * (the extent straddling the range's end is wanted again by the next fill). `asked` is
 * what the read asked for, page-aligned, before the range was widened to whole extents:
 * the kernel's read (see keptByKernel). `exact`: the fill is of the asked pages alone,
 * again after a wider fill failed, so a page-at-a-time inode's extents decode only as far
 * as the kernel's read of those pages decodes them (extentsReadToEnd); a wider fill
 * decodes each of them whole, to keep it for the fills after.
 */
export async function fillCompressed(
  ctx: MountContext,
  inode: Inode,
  start: number,
  end: number,
  needFrom = start,
  into?: Uint8Array,
  asked: readonly [number, number] = [start, end],
  exact = false,
): Promise<Uint8Array> {
  // `into` (the caller's buffer, end - start bytes) may hold old bytes: holes are cleared.
  const out = into ?? new Uint8Array(end - start);
  const pageByPage = pageAtATime(ctx, inode);
  const mapFrom = Math.max(start, needFrom);
  const mapped: ZExtent[] = [];
  // The pclusters the kernel's read keeps, as it maps them (see PclusterFormats).
  const kept: ZExtent[] = [];
  let failure: MapFailure | undefined;
  // A fill as asked after a wider one whose decode failed in an asked page: the kernel's
  // readahead of these pages fails there, and the reader then reads that page alone
  // (read_folio), which keeps pclusters of its own, after the readahead's.
  const readFolioAt = exact ? takeReadFolioPage(ctx, inode, asked) : undefined;
  // A promise only where a read_folio is kept too: most fills have none to wait for.
  const keepWithReadFolio = (): Promise<void> | undefined => {
    keepFormats(ctx.compressed, kept);
    return readFolioAt === undefined ? undefined : keepReadFolio(ctx, inode, readFolioAt);
  };
  try {
    if (pageByPage) await extentsUpward(ctx, inode, mapFrom, end, mapped);
    else failure = await extentsDownward(ctx, inode, mapFrom, end, asked, mapped, kept);
  } catch (e) {
    // Kept also when the mapping of another page of the read failed.
    if (pageByPage) keepFormats(ctx.compressed, await pageReadsMap(ctx, inode, asked, mapped));
    else await keepWithReadFolio();
    throw e;
  }
  if (failure) {
    // A wider fill's error is not believed: the pages asked are filled again as the
    // kernel's read maps them, and what that read keeps is kept then. The error first: it
    // decodes in the formats kept before this read (see readFolioError).
    const believed = exact || (start === asked[0] && end === asked[1]);
    const error = await readFolioError(ctx, inode, failure, mapped, Math.max(mapFrom, asked[0]), believed);
    if (believed) {
      await keepWithReadFolio();
      // A reader goes on to that page's read_folio, which maps its last byte first (real
      // mutant 535078: a map failing below a one-block LZ4 extent at the address of another
      // file's two-block pcluster; read_folio keeps it, and that file fails at 0). Not
      // again when keepWithReadFolio has just kept that page's (keep() keeps the first).
      const failedPage = Math.floor(failure.key / PAGE_SIZE) * PAGE_SIZE;
      if (!pageByPage && failedPage !== readFolioAt) await keepReadFolio(ctx, inode, failedPage);
    }
    throw error;
  }
  const extents: WholeRead[] = [];
  let mixed: [ZExtent, ZExtent] | undefined;
  const holding = holdingIn(mapped);
  const readToEnd = pageByPage ? await extentsReadToEnd(ctx, inode, asked[0], asked[1], holding) : [];
  if (pageByPage) kept.push(...(await pageReadsMap(ctx, inode, asked, mapped, readToEnd)));
  const readMore = pageByPage && exact ? new Set(readToEnd) : undefined;
  for (const found of mapped) {
    let ext = found;
    if (ext.kind === "encoded") {
      ext = inKeptFormat(ctx.compressed, ext);
      // at(-1), not [length - 1]: on an empty array that is index -1, a named-property
      // lookup that V8's inline caches cannot keep (the site went megamorphic, measured).
      const prev = extents.at(-1);
      // One pcluster read in two formats (mkfs.erofs 1.9.3 writes these for zstd with
      // short extents). The kernel gathers both extents into the one pcluster at that
      // address and fails the read; decoded apart, one of them would be garbage.
      if (prev?.kind === "encoded" && prev.physical === ext.physical && prev.algorithm !== ext.algorithm) mixed ??= [prev, ext];
    }
    const toEnd = pageByPage ? (readMore ? readMore.has(found) : readsMore(ctx, inode, ext)) : exact && (await readsMoreAtReadEnd(ctx, inode, found, asked[1]));
    const wanted = toEnd ? await readToItsEnd(ctx, inode, ext, pageByPage ? undefined : asked[1]) : ext;
    // A damaged index can map an extent one lcluster at a time (format's extentEnd, as the
    // kernel maps a read): each a longer prefix of one pcluster. The last covers the ones
    // before it, so the pcluster is decoded once per fill, not once per lcluster.
    const last = extents.at(-1);
    if (last && last.kind === ext.kind && last.logical === ext.logical && last.physical === ext.physical) extents[extents.length - 1] = wanted;
    else extents.push(wanted);
  }
  const keeping = keepWithReadFolio();
  if (keeping) await keeping;
  if (mixed) throw mixedFormatKept(ctx.compressed, inode, ...mixed);
  // Tail-packed and fragment extents alone (small files) have no pcluster to read here.
  const { raws, buffers } = extents.some(isEncoded) ? await readPclusters(ctx, inode, extents, asked) : { raws: new Array<undefined>(extents.length), buffers: [] };
  const jobs: DecodeInto[] = [];
  for (let i = 0; i < extents.length; i++) {
    const ext = extents[i]!;
    const from = Math.max(start, ext.logical);
    const to = Math.min(end, ext.logical + ext.length);
    if (ext.kind === "hole") {
      if (into) out.fill(0, from - start, to - start);
      continue;
    }
    if (ext.kind === "fragment") {
      await readFragment(ctx, inode, ext, from, to, out.subarray(from - start, to - start));
      continue;
    }
    const inside = ext.logical >= start && ext.logical + ext.length <= end;
    const recent = recentGet(ctx, inode, ext);
    if (recent) {
      out.set(recent.subarray(from - ext.logical, to - ext.logical), from - start);
      // The fill that takes an extent's last bytes is the last a forward reader makes of
      // it. Kept until the budget pushed it out, such extents filled all 32 MiB of it.
      if (to === ext.logical + ext.length) recentDrop(ctx, recentKey(inode, ext));
    } else if (inside) {
      jobs.push({ ext, raw: raws[i], target: out.subarray(ext.logical - start, ext.logical - start + ext.length) });
    } else if ((prefixIsCheap(ext) || exact) && !ext.readMore) {
      // Straddles the range: only the prefix up to the range's end is decoded, as the
      // kernel decodes partially, and nothing is kept. At the range's end (the page it
      // shares with the extent before) the next fill decodes it whole; at its start (that
      // shared page was evicted while the rest of the extent stayed) it is not wanted again.
      // A fill as asked (after a wider one failed) decodes any codec's prefix so, where the
      // kernel's read of those pages would (see readsMoreAtReadEnd).
      if (ext.logical >= start) {
        jobs.push({ ext, raw: raws[i], target: out.subarray(ext.logical - start, to - start) });
      } else {
        const head = scratchBuffer(ctx, to - ext.logical);
        jobs.push({
          ext,
          raw: raws[i],
          target: head,
          then: () => {
            out.set(head.subarray(from - ext.logical), from - start);
            ctx.scratch.release([head]);
          },
        });
      }
    } else {
      // Straddles the range: decoded whole and kept, as the next fill wants the rest of it.
      // Only copied from while kept, so its buffer goes back to the scratch pool when evicted.
      const whole = scratchBuffer(ctx, ext.length);
      jobs.push({
        ext,
        raw: raws[i],
        target: whole,
        then: () => {
          recentPut(ctx, inode, ext, whole);
          out.set(whole.subarray(from - ext.logical, to - ext.logical), from - start);
        },
      });
    }
  }
  try {
    const decoding = decodeAll(ctx, inode, jobs);
    if (decoding) await decoding;
  } catch (e) {
    if (!exact && ErofsError.isInstance(e)) noteReadaheadFailure(ctx, inode, jobs);
    throw e;
  }
  // Decoded (a decode worker gets copies): the stored bytes are not needed any more.
  ctx.scratch.release(buffers);
  for (const j of jobs) j.then?.();
  if (pageByPage) {
    // The pages the kernel's read of the asked ones holds now, gathered ones included.
    kernelPagesOf(ctx, inode).add(Math.floor(asked[0] / PAGE_SIZE), Math.ceil(readEnd(inode, asked[1], readToEnd) / PAGE_SIZE));
    noteFillSources(ctx, inode, extents, mapFrom, end);
  }
  return out;
}

/** Notes the extent each page of [from, end) was decoded from, by its last byte (see FillSources). */
function noteFillSources(ctx: MountContext, inode: Inode, extents: readonly ZExtent[], from: number, end: number): void {
  const all = ctx.compressed.fillSources;
  let sources = all.get(inode.nid);
  if (!sources) all.set(inode.nid, (sources = new FillSources()));
  let i = 0;
  for (let page = Math.floor(from / PAGE_SIZE); page * PAGE_SIZE < end; page++) {
    const lastByte = pageLastByte(inode, page);
    while (i < extents.length && extents[i]!.logical + extents[i]!.length <= lastByte) i++;
    const ext = extents[i];
    sources.set(page, ext && ext.logical <= lastByte ? ext.logical : NaN);
  }
}

/** The last byte of a page of an inode (the inode's last byte in its last page): where the kernel maps a page it reads. */
function pageLastByte(inode: Inode, page: number): number {
  return Math.min((page + 1) * PAGE_SIZE, inode.size) - 1;
}

function kernelPagesOf(ctx: MountContext, inode: Inode): KernelPages {
  const all = ctx.compressed.kernelPages;
  let pages = all.get(inode.nid);
  if (!pages) all.set(inode.nid, (pages = new KernelPages()));
  return pages;
}

const NO_PAGES: readonly number[] = [];

/**
 * Before a cached page of a page-at-a-time inode is read: the cached pages to drop and
 * fill again, as the kernel's read of that page would decode them otherwise. The vfs
 * fills such an inode ahead of its reads; a kernel mount reads a page only when asked,
 * its read_folio mapping the page's last byte then (with READMORE: LZMA, DEFLATE and
 * Zstandard extents of a block or more to their end, gathering the pages after it that it
 * does not hold). On a damaged index that extent depends on which page is read first
 * (real mutant 533086: app-a-zstd cut inside its packed inode's index, where an lcluster
 * maps on its own to a stored block, but is gathered with the Zstandard extent before it
 * when a page of that extent is read first). When the fill gave the page, and the pages
 * the read gathers, the extent the read maps, they are held from now on (KernelPages);
 * else the page and those gathered are dropped, and the caller fills them as the read
 * does. Sound indexes give every byte one extent from any page: then this costs a map
 * per extent read to its end, or per page where none are.
 */
export function pagesToRefill(ctx: MountContext, inode: Inode, page: number, cached: (page: number) => boolean): readonly number[] | Promise<readonly number[]> {
  if (!pageAtATime(ctx, inode)) return NO_PAGES;
  const held = kernelPagesOf(ctx, inode);
  if (held.has(page)) return NO_PAGES;
  const sources = ctx.compressed.fillSources.get(inode.nid);
  // Without extents read to their end, each page's own map is the one the fill used (see
  // format's "page" mode): nothing a read decodes depends on the reads before it.
  if (!sources || !gathersOnRead(ctx, inode)) {
    held.add(page, page + 1);
    return NO_PAGES;
  }
  return refillsForKernelRead(ctx, inode, page, cached, held, sources);
}

/** Whether a read_folio of this inode can gather pages (READMORE): some extent may be read to its end. */
function gathersOnRead(ctx: MountContext, inode: Inode): boolean {
  if (ctx.compressed.zinfo.get(inode.nid)?.encodedExtents) return true;
  return (ctx.sb.compression.availableAlgorithms & READS_MORE_ALGORITHMS) !== 0;
}

/** The algorithms whose extents a read maps to their end (format's readsMoreFormat), as a bit per algorithm. */
const READS_MORE_ALGORITHMS = [Z_EROFS_COMPRESSION_LZ4, Z_EROFS_COMPRESSION_LZMA, Z_EROFS_COMPRESSION_DEFLATE, Z_EROFS_COMPRESSION_ZSTD].reduce(
  (bits, a) => (readsMoreFormat(a) ? bits | (1 << a) : bits),
  0,
);

async function refillsForKernelRead(ctx: MountContext, inode: Inode, page: number, cached: (page: number) => boolean, held: KernelPages, sources: FillSources): Promise<readonly number[]> {
  const lastByte = pageLastByte(inode, page);
  const ext = await extentReadMaps(ctx, inode, lastByte);
  if (!ext || sources.get(page) !== ext.logical) return [page];
  let top = page;
  if (await readsMoreForPage(ctx, inode, ext, lastByte)) {
    const lastPage = Math.floor((ext.logical + ext.length - 1) / PAGE_SIZE);
    const stale: number[] = [];
    for (let g = page + 1; g <= lastPage; g++) {
      if (held.has(g)) continue; // not read again: the kernel skips pages it holds
      // The extent's last page may end in another extent: its last byte is mapped on its own.
      const gLastByte = pageLastByte(inode, g);
      const expected = gLastByte < ext.logical + ext.length ? ext.logical : (await extentReadMaps(ctx, inode, gLastByte))?.logical;
      if (!cached(g) || sources.get(g) !== expected) stale.push(g);
    }
    if (stale.length) return [page, ...stale.filter(cached)];
    top = lastPage;
  }
  held.add(page, top + 1);
  return NO_PAGES;
}

/**
 * The extents over [from, end) of an inode read a page at a time (the packed inode, the
 * metabox), into `found`, first to last: each page as a read of it alone maps it
 * (format's "page" mode).
 */
async function extentsUpward(ctx: MountContext, inode: Inode, from: number, end: number, found: ZExtent[]): Promise<void> {
  for (let pos = from; pos < end; ) {
    const ext = extentInMemory(ctx, inode, pos) ?? (await extentAt(ctx, inode, pos));
    if (ext.logical + ext.length <= pos) throw corrupted(`extent map makes no progress at ${pos}`, nidWhere(inode));
    found.push(ext);
    pos = Math.min(end, ext.logical + ext.length);
  }
}

/** The extent among `mapped` holding a byte, as extentsReadToEnd asks. */
function holdingIn(mapped: readonly ZExtent[]): (ofs: number) => ZExtent | undefined {
  return (ofs) => mapped.find((e) => e.logical <= ofs && ofs < e.logical + e.length);
}

/**
 * The pclusters a kernel's read of the asked pages of a page-at-a-time inode keeps: those
 * of the encoded extents over the pages its read_folio calls scan, the asked ones and
 * those their READMORE gathers after them (`readToEnd`, see extentsReadToEnd). A fill
 * reaches further (the packed inode is filled ahead of the fragment asked for), but the
 * kernel never maps the extents past its read, and a damaged index there must not decide
 * how later reads decode (real mutant 531303: a packed lcluster mapped as stored onto a
 * Zstandard pcluster, met only by the fill ahead of an earlier fragment, failed a later
 * file that the kernel reads whole).
 */
async function pageReadsMap(ctx: MountContext, inode: Inode, asked: readonly [number, number], mapped: readonly ZExtent[], readToEnd?: readonly ZExtent[]): Promise<ZExtent[]> {
  const end = readEnd(inode, asked[1], readToEnd ?? (await extentsReadToEnd(ctx, inode, asked[0], asked[1], holdingIn(mapped))));
  const from = Math.floor(asked[0] / PAGE_SIZE) * PAGE_SIZE;
  return mapped.filter((e) => e.kind === "encoded" && e.logical < end && e.logical + e.length > from);
}

/**
 * The extents over [from, end) of a file, as the kernel's readahead maps them: it scans a
 * window from its last page down, mapping the last byte not yet covered, so each extent
 * is found from its own last byte, by that lcluster's lookback. On a damaged index that
 * can lead elsewhere than the lookback of the extent's first lcluster. An extent reaching
 * into the one found above it is cut there: those bytes were the higher one's. Mapped
 * afresh, not from the extents remembered (which may have been found from another byte).
 *
 * A page whose mapping fails fails alone in the kernel's scan, which goes on with the
 * page below it. So does this one, to the range's start, and then returns the lowest
 * failure (the caller fails the read): the pclusters mapped below the failed page are
 * kept as the kernel keeps them (see PclusterFormats), and they decide how other files
 * sharing them read later. `found` holds the extents first to last once done; `kept`
 * those whose pclusters the kernel keeps (keptByKernel, as mapped: before any cut), in
 * the order met. `readFolio`: the range is one page read alone, which also keeps the
 * pcluster under its last byte (readFolioKeepsTop).
 */
async function extentsDownward(
  ctx: MountContext,
  inode: Inode,
  from: number,
  end: number,
  asked: readonly [number, number],
  found: ZExtent[],
  kept: ZExtent[],
  readFolio = false,
): Promise<MapFailure | undefined> {
  let above = Infinity;
  let failed: MapFailure | undefined;
  for (let key = end - 1; key >= from; ) {
    let ext: ZExtent;
    try {
      ext = extentInMemory(ctx, inode, key, false) ?? (await extentAt(ctx, inode, key));
      if (ext.logical > key) throw corrupted(`extent map for ${key} starts after it`, nidWhere(inode));
      // A run of holes that the kernel maps a byte at a time (a damaged extent count: each
      // byte a map, millions for a large file) is taken as one part: zeros either way.
      if (ext.holeRunStart !== undefined && ext.holeRunStart < ext.logical && ext.logical > from) {
        const start = Math.max(from, ext.holeRunStart);
        ext = { ...ext, logical: start, length: ext.logical + ext.length - start };
      }
    } catch (e) {
      if (!ErofsError.isInstance(e)) throw e;
      // The lowest failure is the one a read of these pages meets first.
      failed = { error: e, key };
      above = Math.floor(key / PAGE_SIZE) * PAGE_SIZE;
      key = above - 1;
      continue;
    }
    if (keptByKernel(ext, asked) || (readFolio && (await readFolioKeepsTop(ctx, inode, ext, asked[0])))) kept.push(ext);
    if (ext.logical + ext.length > above) ext = { ...ext, length: above - ext.logical, fullMapped: false };
    found.push(ext);
    above = ext.logical;
    key = ext.logical - 1;
  }
  found.reverse();
  return failed;
}

/**
 * `ext` as a read that maps it to its end (READMORE) decodes it. A file's read (`readEnd`
 * given) gathers the pages after its own up to the extent's last, and each gathered page
 * joins the extent's pcluster only where its own scan meets the extent (see
 * highestGatheredPage): the extent decodes, as a prefix, to the highest page that did.
 */
async function readToItsEnd(ctx: MountContext, inode: Inode, ext: ZExtent, readEnd: number | undefined): Promise<WholeRead> {
  const lastPage = Math.floor((Math.min(inode.size, ext.logical + ext.length) - 1) / PAGE_SIZE);
  if (readEnd !== undefined) {
    const top = await highestGatheredPage(ctx, inode, ext, readEnd, lastPage);
    if ((top + 1) * PAGE_SIZE - ext.logical < ext.length) return { ...gatheredPrefix(ext, top), readMore: true };
  }
  return { ...ext, fullMapped: true, readMore: true };
}

/**
 * The highest page up to `lastPage` that the kernel's read ending at `readEnd` attaches to
 * `ext`'s pcluster, gathered pages included. The kernel scans each gathered page from its
 * end down, mapping each byte the map it holds does not cover (the READMORE map of `ext`
 * as it starts); a page whose map fails, or whose scan meets another extent covering its
 * start, adds nothing to the pcluster and fails alone or reads elsewhere. Real mutant
 * 533755 (app-a-deflate, a word of a file's compact index changed): a DEFLATE extent maps
 * over 107 pages from its first, but pages 56 up fail their maps; the kernel decodes its
 * stream for 56 pages, where it still has bytes, and reads them; a whole decode failed.
 */
async function highestGatheredPage(ctx: MountContext, inode: Inode, ext: ZExtent, readEnd: number, lastPage: number): Promise<number> {
  const firstGathered = Math.ceil(readEnd / PAGE_SIZE);
  let held: ZExtent | undefined = ext;
  const covers = (e: ZExtent | undefined, ofs: number) => e !== undefined && e.logical <= ofs && ofs < e.logical + e.length;
  for (let page = lastPage; page >= firstGathered; page--) {
    const pageStart = page * PAGE_SIZE;
    // Each step maps below the extent met before, within the page: at most a page of steps.
    for (let key = pageLastByte(inode, page); ; ) {
      if (!covers(held, key)) held = await extentReadMaps(ctx, inode, key);
      if (!held || held.logical > key) break;
      if (held.logical === ext.logical && held.physical === ext.physical) return page;
      if (held.logical <= pageStart) break;
      key = held.logical - 1;
    }
  }
  return firstGathered - 1;
}

/** Where the lowest failed map of a read is, and why it failed. */
interface MapFailure {
  readonly error: ErofsError;
  readonly key: number;
}

/**
 * What a read of pages from `from` answers when a map in them failed: the kernel's read
 * returns the pages before the first one that fails, and that page's read_folio answers.
 * Pages below the failed map fail only where their pclusters cannot be read or decoded.
 * The failed map's page is scanned from its end down to the map, and the pclusters
 * attached above it are still read and decoded: their failure (EIO for one past the
 * device, a decode error) is what that page answers, ahead of the map's
 * (z_erofs_read_folio takes the queue's error first). Real mutant 531494: a file's
 * i_size raised, so a page holds a stored extent past the image above a map that fails:
 * EIO there, not EUCLEAN.
 */
async function readFolioError(ctx: MountContext, inode: Inode, failure: MapFailure, mapped: readonly ZExtent[], from: number, believed: boolean): Promise<ErofsError> {
  const pageStart = Math.floor(failure.key / PAGE_SIZE) * PAGE_SIZE;
  const pageEnd = Math.min(inode.size, pageStart + PAGE_SIZE);
  const decoded = (e: ZExtent) => e.kind === "encoded" || e.kind === "inline";
  const reads: Array<[ZExtent, number]> = [
    ...mapped.filter((e) => decoded(e) && e.logical < pageStart && e.logical + e.length > from).map((e): [ZExtent, number] => [e, Math.min(e.logical + e.length, pageStart)]),
    ...mapped.filter((e) => decoded(e) && e.logical > failure.key && e.logical < pageEnd).map((e): [ZExtent, number] => [e, pageEnd]),
  ];
  // As the read decodes them: in the formats of the pclusters kept at their addresses, and
  // one pcluster that two of them map in two formats fails them both as mixedFormatKept
  // says (real mutant 533796: a failed map's page sits above a stored extent whose pcluster
  // a Zstandard extent below shares; the kernel's scan makes that pcluster stored first).
  // Only a fill of the kernel's own read (`believed`) keeps a format so: a wider one maps
  // extents that read may never meet, and its error is not the one answered.
  const asRead = reads.map(([e]) => (e.kind === "encoded" ? inKeptFormat(ctx.compressed, e) : e));
  for (let i = 0; i < reads.length; i++) {
    const ext = asRead[i]!;
    const end = reads[i]![1];
    const other = believed ? asRead.find((o) => o.kind === "encoded" && ext.kind === "encoded" && o.physical === ext.physical && o.algorithm !== ext.algorithm) : undefined;
    if (other) {
      const [first, second] = other.logical > ext.logical ? [ext, other] : [other, ext];
      return mixedFormatKept(ctx.compressed, inode, first, second);
    }
    const out = scratchBuffer(ctx, end - ext.logical);
    try {
      await decodeExtent(ctx, inode, ext, undefined, out);
    } catch (e) {
      if (!ErofsError.isInstance(e)) throw e;
      return e;
    } finally {
      ctx.scratch.release([out]);
    }
  }
  return failure.error;
}

/** An extent the kernel maps to its end for a page it reads (see readsMore). */
interface WholeRead extends ZExtent {
  readonly readMore?: true;
}

/**
 * Whether the kernel's read of a file's pages up to `readEnd` decodes `ext` whole when
 * that read ends inside it: its readahead maps the extent under the read's last byte with
 * READMORE (format's readsMoreAt). Otherwise it decodes the extent's prefix only, so
 * damage past the read does not fail it.
 */
async function readsMoreAtReadEnd(ctx: MountContext, inode: Inode, ext: ZExtent, readEnd: number): Promise<boolean> {
  if (ext.kind !== "encoded" || ext.logical >= readEnd || ext.logical + ext.length < readEnd) return false;
  return readsMoreAtByte(ctx, inode, readEnd - 1);
}

/**
 * format's readsMoreAt for a byte of `inode`. The kernel ignores a READMORE map that
 * fails (it reads no more, and the page's own map then fails or not): so does this.
 */
async function readsMoreAtByte(ctx: MountContext, inode: Inode, ofs: number): Promise<boolean> {
  try {
    return await readsMoreAt(inode, ctx.sb, await zinfoOf(ctx, inode), ofs, ...metadataAccess(ctx, inode));
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return false;
  }
}

/**
 * Whether a fill of a page-at-a-time inode wider than a read decodes `ext` whole and
 * keeps it: where some read_folio of its pages would (READMORE: a 48-bit layout's extents
 * always, LZMA, DEFLATE and Zstandard ones of a block or more), as the pages after the
 * first one of such an extent all ask for it whole.
 */
function readsMore(ctx: MountContext, inode: Inode, ext: ZExtent): boolean {
  if (ext.kind !== "encoded" && ext.kind !== "inline") return false;
  if (ctx.compressed.zinfo.get(inode.nid)?.encodedExtents) return true;
  return readsMoreFormat(ext.algorithm) && ext.length >= ctx.sb.blockSize;
}

/**
 * Whether the kernel's read_folio of the page whose last byte is `lastByte` maps `ext`,
 * which holds that byte, to its end (READMORE, format's readsMoreAt): it then decodes the
 * extent whole, its stream's end checked, and damage anywhere in it fails the page. An
 * extent that starts in that page is mapped no further than the page's lcluster, so under
 * a block of it is decoded as a prefix, whatever its length (found by the kernel
 * differential: a fragment in the page where a damaged LZMA extent starts reads there).
 */
async function readsMoreForPage(ctx: MountContext, inode: Inode, ext: ZExtent, lastByte: number): Promise<boolean> {
  return readsMore(ctx, inode, ext) && (await readsMoreAtByte(ctx, inode, lastByte));
}

/**
 * Where the kernel's read of bytes [from, to) (whole pages) of a page-at-a-time inode
 * ends: `to`, or past it up to the end of an extent that the read maps to its end, with
 * the pages it gathers (see extentsReadToEnd); other inodes, see fileReadEnd. Mapped
 * afresh and not remembered, so that the fill's own mapping is what it would be without
 * this look.
 */
export async function pageReadEnd(ctx: MountContext, inode: Inode, from: number, to: number): Promise<number> {
  if (!pageAtATime(ctx, inode)) return fileReadEnd(ctx, inode, to);
  return readEnd(inode, to, await extentsReadToEnd(ctx, inode, from, to, (ofs) => extentReadMaps(ctx, inode, ofs)));
}

/** The extent a read maps for byte `ofs`, mapped afresh; undefined where that map fails (the read gathers nothing there). */
async function extentReadMaps(ctx: MountContext, inode: Inode, ofs: number): Promise<ZExtent | undefined> {
  try {
    return await extentMappedAfresh(ctx, inode, ofs);
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return undefined;
  }
}

/**
 * Where the kernel's read of a file's pages up to `to` ends: its readahead maps the
 * extent under the read's last byte with READMORE, and where that maps it to its end it
 * widens the read to the extent's last page (readahead_expand). Those pages are read with
 * the asked ones, and any other extent the last of them holds (synthetic mutant 523576: the
 * next pcluster, cut by the image's end, joined the asked one's I/O, which failed EIO
 * for both where the asked pcluster alone decoded to EUCLEAN).
 */
async function fileReadEnd(ctx: MountContext, inode: Inode, to: number): Promise<number> {
  const ext = await extentReadMaps(ctx, inode, to - 1);
  return ext && (await readsMoreAtReadEnd(ctx, inode, ext, to)) ? readEnd(inode, to, [ext]) : to;
}

/** Where a read of pages up to `to` ends once it gathers the pages of the extents it maps to their end. */
function readEnd(inode: Inode, to: number, readToEnd: readonly ZExtent[]): number {
  let end = to;
  for (const ext of readToEnd) end = Math.max(end, Math.min(inode.size, Math.ceil((ext.logical + ext.length) / PAGE_SIZE) * PAGE_SIZE));
  return end;
}

/**
 * The extents that the kernel's read of pages [from, to) of a page-at-a-time inode maps
 * to their end. It reads the pages one read_folio at a time, and each maps the extent
 * under its page's last byte so where it can (readsMoreForPage), and gathers the pages after it
 * up to that extent's end, which then need no read_folio of their own. An extent met only
 * in such a gathered page is mapped as a scan of that page maps it, no further than its
 * lcluster there, and decodes no more than the read needs: damage further in its stream
 * does not fail the read (real-image mutant 530513: a fragment in an LZMA pcluster of
 * app-a-lzma's packed inode, whose last page holds the first bytes of a damaged one).
 * Gathered pages that a kernel mount holds already are left out (see gatheredPrefix).
 * `extentHolding` gives the extent holding a byte, or undefined (its mapping failed: that
 * read_folio gathers nothing).
 */
async function extentsReadToEnd(
  ctx: MountContext,
  inode: Inode,
  from: number,
  to: number,
  extentHolding: (ofs: number) => ZExtent | undefined | Promise<ZExtent | undefined>,
): Promise<ZExtent[]> {
  const chosen: ZExtent[] = [];
  const held = kernelPagesOf(ctx, inode);
  for (let page = Math.floor(from / PAGE_SIZE); page * PAGE_SIZE < to; ) {
    const lastByte = pageLastByte(inode, page);
    const ext = await extentHolding(lastByte);
    if (ext && ext.logical <= lastByte && (await readsMoreForPage(ctx, inode, ext, lastByte))) {
      const lastPage = Math.floor((ext.logical + ext.length - 1) / PAGE_SIZE);
      let top = lastPage;
      while (top > page && held.has(top)) top--;
      chosen.push(top === lastPage ? ext : gatheredPrefix(ext, top));
      page = lastPage + 1;
    } else {
      page++;
    }
  }
  return chosen;
}

/**
 * The part of an extent mapped to its end that a read_folio decodes when the pages it
 * would gather at the top are held already (KernelPages): the kernel attaches only the
 * pages it has to read, so the pcluster decodes to the end of the highest of them, as a
 * prefix whose stream end is not checked (real mutant 532508: app-a-lzma cut inside its
 * packed inode's index, where a fragment read after one in the extent's last page reads,
 * and read first fails).
 */
function gatheredPrefix(ext: ZExtent, topPage: number): ZExtent {
  return { ...ext, length: (topPage + 1) * PAGE_SIZE - ext.logical, fullMapped: false };
}

/**
 * Codecs worth a worker: measured with the corpus on 2 cores (real-time priority, so
 * other load did not count), one worker made reading app-a-lzma ~40% faster (70 → 98
 * MB/s with the WebAssembly decoder) but zstd (~700 MB/s) only 0–10% and lz4 (~1.4 GB/s)
 * ~10% slower, and deflate (~430 MB/s) no faster: their pclusters decode in about the
 * time the message round trip, the copies and this thread's own work per fill take.
 */
const OFFLOAD = new Set([Z_EROFS_COMPRESSION_LZMA]);

/**
 * Whether decoding an extent's first bytes costs in proportion to them: LZ4 and LZMA stop
 * once the output is full, and stored pclusters are copied. zlib and the zstd decoder
 * here produce the whole pcluster first, so for those a straddling extent is decoded
 * once, whole, and kept for the next fill (the recent-extent cache).
 */
function prefixIsCheap(ext: ZExtent): boolean {
  if (ext.kind !== "encoded" && ext.kind !== "inline") return false;
  const a = ext.algorithm;
  return a === Z_EROFS_COMPRESSION_LZ4 || a === Z_EROFS_COMPRESSION_LZMA || a === ALG_SHIFTED || a === ALG_INTERLACED;
}

/**
 * Whether decoding `ext` into `outLength` bytes stops before the stream's end. A
 * Zstandard decode always may: the kernel's decoder streams a frame until it has the
 * bytes it asked for and checks nothing after them (z_erofs_zstd_decompress), so a frame
 * longer than its extent (a damaged index or frame header) reads as its extent's bytes.
 */
function decodesPartially(ext: ZExtent, outLength: number): boolean {
  return ext.algorithm === Z_EROFS_COMPRESSION_ZSTD || ext.partialRef || !ext.fullMapped || outLength < ext.length;
}

function offloadable(j: DecodeInto): boolean {
  return j.raw !== undefined && j.ext.kind === "encoded" && OFFLOAD.has(j.ext.algorithm);
}

interface DecodeInto {
  ext: ZExtent;
  raw: Uint8Array | undefined;
  target: Uint8Array;
  /** Runs once every job of the fill has decoded. */
  then?: () => void;
}

/**
 * Decodes extents straight into their places in a fill. With two or more pclusters worth
 * a worker, this thread and a pool worker share them (DecodePool.share), each taking the
 * next as it finishes one.
 */
/** Decodes a fill's jobs: a promise only where some decode waits (a read, a worker). */
function decodeAll(ctx: MountContext, inode: Inode, jobs: DecodeInto[]): Promise<void> | undefined {
  const known = knownOutcome(ctx, inode, jobs);
  if (known) throw known;
  // One algorithm per shared batch (an image may mix them): the first worth a worker.
  const algorithm = jobs.find(offloadable)?.ext.algorithm;
  if (algorithm === undefined) return decodeHere(ctx, inode, jobs);
  const isShared = (j: DecodeInto) => offloadable(j) && j.ext.algorithm === algorithm;
  const shared = jobs.filter(isShared);
  const pool = shared.length >= 2 ? DecodePool.shared() : null;
  if (!pool) return decodeHere(ctx, inode, jobs);
  return decodeShared(ctx, inode, jobs.filter((j) => !isShared(j)), algorithm, shared, pool);
}

async function decodeShared(ctx: MountContext, inode: Inode, here: readonly DecodeInto[], algorithm: number, shared: readonly DecodeInto[], pool: DecodePool): Promise<void> {
  await decodeHere(ctx, inode, here);
  const { config, key } = decoderSettings(ctx);
  await pool.share(
    algorithm,
    config,
    key,
    shared.map((j) => ({ input: j.raw!, outLength: j.target.length, partial: decodesPartially(j.ext, j.target.length) })),
    (i) => decodeExtent(ctx, inode, shared[i]!.ext, shared[i]!.raw, shared[i]!.target),
    (i, bytes) => {
      shared[i]!.target.set(bytes);
      if (ctx.compressed.failedDecodes.size) rememberSuccess(ctx, jobKey(inode, shared[i]!));
    },
    (i, e) => rememberFailure(ctx, jobKey(inode, shared[i]!), e),
  );
}

/**
 * Decodes jobs in order on this thread: without a promise while each decode is done
 * when it returns (most are), and from the first one that is not, after it.
 */
function decodeHere(ctx: MountContext, inode: Inode, jobs: readonly DecodeInto[], from = 0): Promise<void> | undefined {
  for (let i = from; i < jobs.length; i++) {
    const j = jobs[i]!;
    const pending = decodeExtent(ctx, inode, j.ext, j.raw, j.target);
    if (pending) return pending.then(() => decodeHere(ctx, inode, jobs, i + 1));
  }
  return undefined;
}

/**
 * Errors of device reads that held a pcluster of the asked pages. The kernel reads
 * adjacent pclusters with one I/O, and when that I/O fails (past the device's end) every
 * pcluster in it fails: the asked pages fail with the pages gathered after them, not
 * only those (see readData's fill without the gathered pages).
 */
const failingAsked = new WeakSet<ErofsError>();

/** Whether `e` is the failed read of a pcluster of the asked pages (see failingAsked). */
export function failsAskedPages(e: ErofsError): boolean {
  return failingAsked.has(e);
}

/**
 * The stored bytes of every plain pcluster among `extents` (others: undefined), read in
 * as few calls as possible: runs of pclusters that follow each other on the device (or
 * repeat, for deduplicated ones) share one read, into a scratch buffer (`buffers`, to be
 * released once decoded) rather than as a view of the device's readahead window, which
 * would keep that window's buffer from being reused.
 * A failed read that held a pcluster of the `asked` bytes is marked (failingAsked).
 */
async function readPclusters(ctx: MountContext, inode: Inode, extents: ZExtent[], asked?: readonly [number, number]): Promise<{ raws: Array<Uint8Array | undefined>; buffers: Uint8Array[] }> {
  const raws: Array<Uint8Array | undefined> = new Array(extents.length);
  const buffers: Uint8Array[] = [];
  let i = 0;
  while (i < extents.length) {
    const first = extents[i]!;
    if (first.kind !== "encoded" || ctx.compressed.recent.has(recentKey(inode, first))) {
      i++;
      continue;
    }
    let runEnd = first.physical + first.physicalLength;
    let j = i + 1;
    for (; j < extents.length; j++) {
      const e = extents[j]!;
      if (e.kind !== "encoded" || e.physical < first.physical || e.physical > runEnd) break;
      const newEnd = Math.max(runEnd, e.physical + e.physicalLength);
      if (newEnd - first.physical > MAX_BATCH_READ) break;
      runEnd = newEnd;
    }
    const length = runEnd - first.physical;
    const { source, position } = resolveDevice(ctx, 0, first.physical, length);
    const buf = scratchBuffer(ctx, length);
    buffers.push(buf);
    try {
      await source.read(buf, position);
    } catch (e) {
      if (ErofsError.isInstance(e) && asked && extents.slice(i, j).some((x) => x.logical < asked[1] && x.logical + x.length > asked[0])) failingAsked.add(e);
      throw e;
    }
    for (let k = i; k < j; k++) {
      const e = extents[k]!;
      if (e.kind === "encoded") raws[k] = buf.subarray(e.physical - first.physical, e.physical - first.physical + e.physicalLength);
    }
    i = j;
  }
  return { raws, buffers };
}

/**
 * Bytes [from, to) of a fragment extent, from the packed inode, into `into` (to - from
 * bytes). Only that range is read: a fragment can be as long as its file, and i_size is
 * whatever the image says.
 */
async function readFragment(ctx: MountContext, inode: Inode, ext: ZExtent, from: number, to: number, into: Uint8Array): Promise<void> {
  // As the kernel: the packed inode is there only on an image with the fragments feature.
  const packed = ctx.packed;
  if (!packed) throw corrupted("fragment without a usable packed inode", nidWhere(inode));
  if (inode.nid === packed.nid) return readOwnFragment(packed, ext, into.subarray(0, to - from));
  // Past the packed inode's size the kernel's page cache of it holds zeros.
  const at = ext.physical + (from - ext.logical);
  const within = Math.max(0, Math.min(to - from, packed.size - at));
  if (within < to - from) into.fill(0, within, to - from);
  if (!within && to > from) await readPackedTailPage(ctx, packed, at);
  // The file's pages last to first, as the kernel's readahead scans a window: each page's
  // bytes come from the packed inode, read a page at a time, and each such read also
  // fills the packed pages below it that its extent covers. On a damaged packed index the
  // order decides which extent decodes a packed page (a page mapped on its own can lead
  // elsewhere than the extent of the page after it), so it is the kernel's order.
  const fileEnd = from + within;
  for (let hi = fileEnd; hi > from; ) {
    const lo = Math.max(from, Math.floor((hi - 1) / PAGE_SIZE) * PAGE_SIZE);
    await readData(ctx, packed, at + (lo - from), hi - lo, true, into.subarray(lo - from, hi - from));
    hi = lo;
  }
}

/**
 * The packed inode mapped to a fragment of itself (its map header damaged). The kernel
 * reads such a fragment from the packed inode's own pages, as any other. Pages wholly past
 * its size map to nothing and read as zeros, so a fragment that starts there reads as
 * zeros, and so does every file whose fragment the packed inode holds (real mutant 535540:
 * app-a-zstd's packed inode with i_xattr_icount 0 -> 0x800, so its header is read 8,200
 * bytes on, inside its index, where the whole-file bit is set with an offset near 2^63;
 * a kernel mount reads every fragment file as zeros). A fragment that starts lower would
 * send each page's read to another page of the same inode, a chain the kernel would
 * follow down its stack, or to the page being read, which it would wait on: refused (not
 * tried on a kernel mount, which could hang).
 */
function readOwnFragment(packed: Inode, ext: ZExtent, into: Uint8Array): void {
  const pastLastPage = Math.ceil(packed.size / PAGE_SIZE) * PAGE_SIZE;
  if (ext.physical < pastLastPage) throw corrupted("the packed inode's fragment lies in the packed inode", nidWhere(packed));
  into.fill(0);
}

/**
 * Bytes of the packed inode at `at`, past its size, are zeros only once the kernel has
 * read the page they are in: the page that holds the inode's last byte is read like any
 * other, its bytes below the size mapped, and fails where that map fails (synthetic mutant
 * 524313: the packed inode's i_size cut to 146 bytes, under its extents; a fragment past
 * those 146 bytes in page 0 failed on a kernel mount and read as zeros here).
 */
async function readPackedTailPage(ctx: MountContext, packed: Inode, at: number): Promise<void> {
  const tailPage = Math.floor((packed.size - 1) / PAGE_SIZE) * PAGE_SIZE;
  if (packed.size > 0 && at >= tailPage && at < tailPage + PAGE_SIZE) await readData(ctx, packed, tailPage, packed.size - tailPage);
}

/** `length` bytes from the mount's scratch pool (stale contents), or new ones above its largest size. */
export function scratchBuffer(ctx: MountContext, length: number): Uint8Array {
  return ctx.scratch.acquire(length)?.subarray(0, length) ?? new Uint8Array(length);
}

function recentKey(inode: Inode, ext: ZExtent): string {
  return `${inode.nid}:${ext.logical}`;
}

/** A recently decoded whole extent, marked most recently used. */
function recentGet(ctx: MountContext, inode: Inode, ext: ZExtent): Uint8Array | undefined {
  const st = ctx.compressed;
  const key = recentKey(inode, ext);
  const hit = st.recent.get(key);
  if (!hit || hit.length !== ext.length) return undefined;
  st.recent.delete(key);
  st.recent.set(key, hit);
  return hit;
}

function recentPut(ctx: MountContext, inode: Inode, ext: ZExtent, data: Uint8Array): void {
  const st = ctx.compressed;
  const key = recentKey(inode, ext);
  recentDrop(ctx, key);
  st.recent.set(key, data);
  st.recentBytes += data.length;
  while (st.recentBytes > st.recentBudget && st.recent.size > 1) recentDrop(ctx, st.recent.keys().next().value!);
}

/** Forgets a kept extent; its buffer goes back to the scratch pool. */
function recentDrop(ctx: MountContext, key: string): void {
  const st = ctx.compressed;
  const old = st.recent.get(key);
  if (!old) return;
  st.recent.delete(key);
  st.recentBytes -= old.length;
  ctx.scratch.release([old]);
}

/** Forgets every kept extent (an idle owner, an unmount); their buffers go back to the scratch pool. */
export function forgetRecentExtents(ctx: MountContext): void {
  const st = ctx.compressed;
  ctx.scratch.release([...st.recent.values()]);
  st.recent.clear();
  st.recentBytes = 0;
}

/**
 * Decodes the first `out.length` bytes of an extent (at most ext.length) into `out`;
 * `stored` is its pcluster when already read. Without a promise when nothing needs one
 * (a read pcluster, a synchronous decoder: every LZ4 pcluster of a fill): a sequential
 * read of app-a decodes ~8K pclusters, and each awaited call was a promise and a hop.
 */
function decodeExtent(ctx: MountContext, inode: Inode, ext: ZExtent, stored: Uint8Array | undefined, out: Uint8Array): void | Promise<void> {
  const n = out.length;
  if (n > ext.length) throw new ErofsError("EINVAL", `decode of ${n} bytes from an extent of ${ext.length}`, nidWhere(inode));
  if (ext.kind === "fragment") return readFragment(ctx, inode, ext, ext.logical, ext.logical + n, out);
  if (ext.kind === "inline" && ext.algorithm === ALG_INTERLACED) return decodeInlineInterlaced(ctx, inode, ext, out);
  if (stored && ext.kind !== "inline") return decodeStored(ctx, inode, ext, stored, out);
  // A tail-packed pcluster sits in the inode's metadata block, cached since iget mostly.
  const inline = ext.kind === "inline" ? inodeMetadataInMemory(ctx, inode, ext.physical, ext.physicalLength) : undefined;
  if (inline) return decodeStored(ctx, inode, ext, inline, out);
  return readAndDecode(ctx, inode, ext, out);
}

async function readAndDecode(ctx: MountContext, inode: Inode, ext: ZExtent, out: Uint8Array): Promise<void> {
  let raw: Uint8Array;
  if (ext.kind === "inline") {
    raw = await readInodeMetadata(ctx, inode, ext.physical, ext.physicalLength);
  } else {
    const { source, position } = resolveDevice(ctx, 0, ext.physical, ext.physicalLength);
    raw = await readView(source, position, ext.physicalLength);
  }
  await decodeStored(ctx, inode, ext, raw, out);
}

/**
 * A stored pcluster shorter than its extent: the kernel's stored transforms refuse output
 * longer than their input as unsupported (EOPNOTSUPP), not as corruption.
 */
function storedTooShort(inode: Inode): ErofsError {
  return unsupported("stored pcluster shorter than its extent", nidWhere(inode));
}

/**
 * decodeExtent once the pcluster's bytes are at hand. A decode that failed before fails
 * again at once: the image never changes and the codecs are deterministic, and on a
 * damaged image the same pcluster is asked for over and over (each fragment in it, each
 * page the kernel retries alone through erofs-fuse): on a damaged app-a-lzma, ~40 ms a
 * time for its damaged packed pcluster.
 */
function decodeStored(ctx: MountContext, inode: Inode, ext: ZExtent, raw: Uint8Array, out: Uint8Array): void | Promise<void> {
  // Nothing is looked up or kept until a decode has failed: a sound image pays nothing.
  const key = ctx.compressed.failedDecodes.size ? failureKey(inode, ext, out.length) : undefined;
  const known = key === undefined ? undefined : ctx.compressed.failedDecodes.get(key);
  if (known) throw known;
  try {
    const pending = decodeStoredOnce(ctx, inode, ext, raw, out);
    if (!pending) return decodeSucceeded(ctx, key);
    return pending.then(
      () => decodeSucceeded(ctx, key),
      (e: unknown) => decodeFailed(ctx, key ?? failureKey(inode, ext, out.length), e),
    );
  } catch (e) {
    return decodeFailed(ctx, key ?? failureKey(inode, ext, out.length), e);
  }
}

/** Remembers a sound decode, if failures were known when it started (`key` is then set). */
function decodeSucceeded(ctx: MountContext, key: string | undefined): void {
  if (key !== undefined) rememberSuccess(ctx, key);
}

/** Remembers a failed decode (an ErofsError: the image's fault, not ours) and throws its error again. */
function decodeFailed(ctx: MountContext, key: string, e: unknown): never {
  if (ErofsError.isInstance(e)) rememberFailure(ctx, key, e);
  throw e;
}

/** How many failed decodes are remembered (the oldest go first). */
const FAILED_DECODES_KEPT = 256;

/** What a decode's outcome depends on: the inode's pcluster, its format, and the output asked for. */
function failureKey(inode: Inode, ext: ZExtent, outLength: number): string {
  return `${inode.nid}:${ext.kind}:${ext.physical}:${ext.physicalLength}:${ext.algorithm}:${ext.logical}:${outLength}:${decodesPartially(ext, outLength)}`;
}

/** Notes the page where a wider fill's first failed decode starts (see fillCompressed's readFolioAt). */
function noteReadaheadFailure(ctx: MountContext, inode: Inode, jobs: readonly DecodeInto[]): void {
  const failed = jobs.filter((j) => ctx.compressed.failedDecodes.has(jobKey(inode, j)));
  if (!failed.length) return;
  const first = Math.min(...failed.map((j) => j.ext.logical));
  lruSet(ctx.compressed.readaheadFailedAt, inode.nid, Math.floor(first / PAGE_SIZE) * PAGE_SIZE, READAHEAD_FAILURES_KEPT);
}

/** Inodes whose failed fill is remembered until their fill as asked (one per reader, in practice). */
const READAHEAD_FAILURES_KEPT = 64;

/**
 * The page noted by noteReadaheadFailure for `inode`, forgotten once taken: the page the
 * kernel's read_folio reads next, for keepReadFolio. Undefined for a page-at-a-time inode
 * (its reads are modelled page by page already) or a page outside `within`.
 */
function takeReadFolioPage(ctx: MountContext, inode: Inode, within?: readonly [number, number]): number | undefined {
  const at = ctx.compressed.readaheadFailedAt.get(inode.nid);
  ctx.compressed.readaheadFailedAt.delete(inode.nid);
  if (at === undefined || pageAtATime(ctx, inode)) return undefined;
  return !within || (at >= within[0] && at < within[1]) ? at : undefined;
}

/**
 * Keeps what the kernel's read_folio of the page where a read's readahead failed keeps,
 * when that read was the fill itself and its error stands (no fill as asked follows to
 * do it, see fillCompressed's readFolioAt). A reader on a kernel mount gets the pages
 * before that page, reads on, and meets read_folio there (real mutant 536535, zh-cn read
 * whole).
 */
export async function keepFailedPageRead(ctx: MountContext, inode: Inode): Promise<void> {
  const at = takeReadFolioPage(ctx, inode);
  if (at !== undefined) await keepReadFolio(ctx, inode, at);
}

/**
 * Keeps the pclusters that the kernel's read_folio of the page at `at` keeps. It maps the
 * page's extents from its last byte down, to the page's start or a failed map: those not
 * FULL_MAPPED and one that began in an earlier page are kept (keptByKernel with the page
 * as the read), and so is the extent holding the page's last byte, unless that first map
 * is FULL_MAPPED (readFolioKeepsTop). What it keeps decides how other files sharing those
 * pclusters read later. Real mutant 536094 (app-a, its packed inode's index cut):
 * esbuild's second LZ4 extent is damaged and starts in page 28, so the readahead of pages
 * 0-63 fails from page 28; read_folio(28) then maps the first extent, whose last bytes
 * are in page 28, and keeps its pcluster, which a packed page mapped to that address
 * decodes with afterwards. Traced: the pcluster's compressed pages enter the managed cache
 * during read_folio(28), not during the readahead.
 */
async function keepReadFolio(ctx: MountContext, inode: Inode, at: number): Promise<void> {
  const page: [number, number] = [at, Math.min(inode.size, at + PAGE_SIZE)];
  const kept: ZExtent[] = [];
  try {
    await extentsDownward(ctx, inode, page[0], page[1], page, [], kept, true);
  } catch (e) {
    // The read's own error is the answer; this look only decides what stays kept.
    if (!ErofsError.isInstance(e)) throw e;
  }
  keepFormats(ctx.compressed, kept);
}

/** failureKey of a fill's decode job (its output is the job's target). */
function jobKey(inode: Inode, job: DecodeInto): string {
  return failureKey(inode, job.ext, job.target.length);
}

function rememberFailure(ctx: MountContext, key: string, e: ErofsError): void {
  const failed = ctx.compressed.failedDecodes;
  if (failed.size >= FAILED_DECODES_KEPT) failed.delete(failed.keys().next().value!);
  failed.set(key, e);
}

/** Kept once failures are known (see knownOutcome). */
function rememberSuccess(ctx: MountContext, key: string): void {
  const st = ctx.compressed;
  if (st.decodedFine.size >= DECODED_FINE_KEPT) st.decodedFine.delete(st.decodedFine.values().next().value!);
  st.decodedFine.add(key);
}

const DECODED_FINE_KEPT = 1024;

/**
 * The error a fill's decodes would end in, when it is known without decoding: jobs known
 * to decode up to one known to fail. A damaged pcluster is asked for again and again
 * (each fragment near it, read with the packed inode's pages ahead of it), and each time
 * the sound pclusters before it would be decoded for nothing before it failed again. In
 * order, so the answer is the error decoding would give.
 */
function knownOutcome(ctx: MountContext, inode: Inode, jobs: readonly DecodeInto[]): ErofsError | undefined {
  const st = ctx.compressed;
  if (!st.failedDecodes.size) return undefined;
  for (const j of jobs) {
    const key = jobKey(inode, j);
    const failed = st.failedDecodes.get(key);
    if (failed) return failed;
    if (!st.decodedFine.has(key)) return undefined;
  }
  return undefined;
}

function decodeStoredOnce(ctx: MountContext, inode: Inode, ext: ZExtent, raw: Uint8Array, out: Uint8Array): void | Promise<void> {
  // The kernel refuses a stored decode whose output (the bytes its read needs of the
  // extent, not the extent's length) is longer than its input (real mutant 533796: the
  // 4,056 bytes of a page that a 1-block pcluster, kept stored, decodes to for a read of
  // that page alone, where the extent is 122,750 bytes long).
  const n = out.length;
  if (ext.algorithm === ALG_SHIFTED) {
    if (n > raw.length) throw storedTooShort(inode);
    out.set(raw.subarray(0, n));
    return;
  }
  if (ext.algorithm === ALG_INTERLACED) {
    if (n > raw.length) throw storedTooShort(inode);
    if (raw.length > ctx.sb.blockSize) throw unsupported("interlaced pcluster larger than a block", nidWhere(inode));
    unrotate(raw, 0, raw.length, ext.logical, ctx.sb.blockSize, out);
    return;
  }
  const decoder = decoderFor(ctx, ext.algorithm);
  if (ext.algorithm === Z_EROFS_COMPRESSION_DEFLATE) return decodeDeflateAsKernel(ctx, ext, decoder, raw, out);
  return decoder.decode(raw, out, decodesPartially(ext, n));
}

/**
 * The kernel's interlaced (rotated, stored) transform. `input` holds the pcluster's
 * `inputSize` bytes from `inputStart`: the block itself, or for a tail-packed pcluster
 * the whole metadata page it sits in. The output's first bytes, up to the end of the
 * extent's first block, are taken from where they would sit had the pcluster been a whole
 * block: `inputSize` back from its end, wrapped within the page. For a block that is the
 * rotation mkfs wrote; for an inline tail shorter than a block it lands elsewhere in the
 * page (mkfs 1.9.3 writes such tails into the packed inode unrotated, with the interlaced
 * flag set, and the kernel reads those other bytes: measured, 81 bytes of a fragment).
 * The rest follow from the pcluster's start.
 */
function unrotate(input: Uint8Array, inputStart: number, inputSize: number, logical: number, bs: number, out: Uint8Array): void {
  const n = out.length;
  const untilBlockEnd = bs - (logical % bs);
  const from = (((inputStart + inputSize - untilBlockEnd) % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE;
  const first = Math.min(untilBlockEnd, n);
  // Past the page the kernel would copy from memory beyond it; nothing to reproduce: zeros.
  out.fill(0, 0, first);
  out.set(input.subarray(from, Math.min(input.length, from + first)));
  if (n > first) out.set(input.subarray(inputStart, inputStart + n - first), first);
}

/** An interlaced tail-packed pcluster: decoded, as the kernel does, from the metadata page it sits in. */
async function decodeInlineInterlaced(ctx: MountContext, inode: Inode, ext: ZExtent, out: Uint8Array): Promise<void> {
  if (out.length > ext.physicalLength) throw storedTooShort(inode);
  const pageStart = Math.floor(ext.physical / PAGE_SIZE) * PAGE_SIZE;
  const page = new Uint8Array(PAGE_SIZE);
  // Past the metadata's end (an image of 1 KiB blocks ending mid-page) the kernel's page holds zeros.
  const length = Math.min(PAGE_SIZE, metadataEnd(ctx, inode) - pageStart);
  page.set(await readInodeMetadata(ctx, inode, pageStart, length));
  unrotate(page, ext.physical - pageStart, ext.physicalLength, ext.logical, ctx.sb.blockSize, out);
}

const SHORT_STREAMS_KEPT = 1 << 16;

/**
 * The kernel's DEFLATE decoder takes a stream that ends, whole, in the last page of the
 * output it was asked for, and leaves that page's bytes after the end as they were: stale
 * (no reader can reproduce them). They read as zeros here, and the mount counts such
 * pclusters (ErofsFs.shortStreams, which erofs-cli fsck reports). The other pages decode
 * as on a kernel mount; a stream ending before the last page, or cut off, fails them all.
 */
function decodeDeflateAsKernel(ctx: MountContext, ext: ZExtent, decoder: Decompressor, raw: Uint8Array, out: Uint8Array): void {
  const partial = decodesPartially(ext, out.length);
  try {
    void decoder.decode(raw, out, partial);
  } catch (e) {
    const produced = shortStreamLength(e);
    // The output is handed to the codec a page at a time, the first from ext.logical's
    // offset in its page: where the last of them starts.
    const lastPage = Math.max(0, Math.floor((ext.logical + out.length - 1) / PAGE_SIZE) * PAGE_SIZE - ext.logical);
    if (produced === undefined || produced <= lastPage) throw e;
    void decoder.decode(raw, out.subarray(0, produced), true);
    out.fill(0, produced);
    // Each pcluster once, however often it is decoded; a bound on what a hostile image can add.
    if (ctx.compressed.shortStreams.size < SHORT_STREAMS_KEPT) ctx.compressed.shortStreams.add(ext.physical);
  }
}

function decoderSettings(ctx: MountContext): { config: DecompressorConfig; key: string } {
  const st = ctx.compressed;
  if (!st.settings) {
    const config = decoderConfig(ctx);
    st.settings = { config, key: JSON.stringify(config) };
  }
  return st.settings;
}

function decoderConfig(ctx: MountContext): DecompressorConfig {
  const c = ctx.sb.compression;
  return {
    lz4MaxDistance: c.lz4MaxDistance,
    lzmaDictSize: c.lzmaDictSize,
    zstdWindowLog: c.zstdWindowLog,
    zeroPadding: (ctx.sb.featureIncompat & INCOMPAT.ZERO_PADDING) !== 0,
    blockSize: ctx.sb.blockSize,
  };
}

function decoderFor(ctx: MountContext, algorithm: number): Decompressor {
  let dec = ctx.compressed.decoders.get(algorithm);
  if (!dec) ctx.compressed.decoders.set(algorithm, (dec = createDecompressor(algorithm, decoderConfig(ctx))));
  return dec;
}
