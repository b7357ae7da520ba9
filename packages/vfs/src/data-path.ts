import {
  DATALAYOUT,
  ErofsError,
  chunkEntryOffset,
  chunkEntrySize,
  corrupted,
  isCompressedLayout,
  mapChunk,
  mapFlat,
  pow2,
  unsupported,
  type FlatExtent,
  type Inode,
} from "@erofs-ts/format";
import type { BlockSource } from "@erofs-ts/blockdev";
import { PAGE_SIZE, type CacheOwner, type PageCache } from "@erofs-ts/ishare-cache";
import { PACKED_OWNER, type MountContext } from "./context.js";
import { metadataEnd, readInodeMetadata } from "./metadata.js";
import { extentBounds, failsAskedPages, fillCompressed, keepFailedPageRead, pageAtATime, pageReadEnd, pagesToRefill, scratchBuffer } from "./compressed.js";

/** Most pages filled by one miss: bounds the buffer a single read allocates (1 MiB). */
const MAX_FILL_PAGES = 256;
/** Pages of the packed inode filled per miss, whatever was asked (512 KiB). */
const PACKED_FILL_PAGES = 128;

/**
 * Reads file bytes [offset, offset + length) (clamped to the file size) through the
 * page cache: cached pages are copied out, each run of missing pages is filled by one
 * pass over the inode's mapping and stored. With `store` false the caller keeps the bytes
 * itself (the kernel's page cache behind FUSE, a stream read once): pages whose last
 * bytes it receives are not kept, or leave the cache as they are served, so only pages
 * decoded beyond the request (the rest of a compressed extent, or of a page the request
 * ends in, which the caller will ask for next) wait here.
 */
export async function readData(
  ctx: MountContext,
  inode: Inode,
  offset: number,
  length: number,
  store = true,
  into?: Uint8Array,
): Promise<Uint8Array> {
  const end = Math.min(inode.size, offset + length);
  if (offset >= end) return new Uint8Array(0);
  if (into && into.length < end - offset) throw new ErofsError("EINVAL", `read buffer of ${into.length} bytes for ${end - offset}`);
  // Every byte of `out` is written below, so a reused (dirty) buffer is fine.
  const out = into ? into.subarray(0, end - offset) : new Uint8Array(end - offset);
  const { cache, owner, packed } = pageHome(ctx, inode);
  const firstPage = Math.floor(offset / PAGE_SIZE);
  const lastPage = Math.floor((end - 1) / PAGE_SIZE);
  // Whether the request hands over the rest of page i, to its end (or the file's). A
  // sequential reader had the page's start from the read before (when the reads do not
  // fall on page boundaries); a reader that skipped it asks again, as for any miss.
  const finishes = (i: number): boolean => Math.min((i + 1) * PAGE_SIZE, inode.size) <= end;
  const compressed = isCompressedLayout(inode.datalayout);
  // Only pages of an inode read a page at a time are ever filled again (pagesToRefill):
  // asked once here, not per cached page.
  const refills = compressed && pageAtATime(ctx, inode);
  let p = firstPage;
  // The page whose fill failed once widened (to whole extents, or ahead in the packed
  // inode): filled again as asked.
  let exactAt = -1;
  // The page whose fill as asked failed with the pages the kernel's read gathers after
  // them: those can fail alone, so the asked pages are filled once more without them.
  let ungatheredAt = -1;
  while (p <= lastPage) {
    if (refills && cache.has(owner, p)) {
      // A page filled ahead that the kernel's read of it would decode otherwise is filled again.
      const refill = pagesToRefill(ctx, inode, p, (i) => cache.has(owner, i));
      for (const i of refill instanceof Promise ? await refill : refill) cache.take(owner, i, ctx.id);
    }
    const page = store || !finishes(p) ? cache.get(owner, p, ctx.id) : cache.take(owner, p, ctx.id);
    if (page) {
      copyPagePart(page, p, offset, end, out);
      p++;
      continue;
    }
    let q = p + 1;
    while (q <= lastPage && q - p < MAX_FILL_PAGES && !cache.has(owner, q)) q++;
    const exact = exactAt === p;
    // The pages the kernel's read would read (the fill may reach further, as below).
    const askedEnd = Math.min(inode.size, q * PAGE_SIZE);
    if (packed && store && !exact) {
      // Fragments are read in small pieces in about the order they were packed: filling
      // ahead decodes the next pclusters along with this one (in parallel, with a pool).
      const limit = Math.min(p + PACKED_FILL_PAGES, Math.ceil(inode.size / PAGE_SIZE));
      while (q < limit && !cache.has(owner, q)) q++;
    }
    let runStart = p * PAGE_SIZE;
    let runEnd = Math.min(inode.size, q * PAGE_SIZE);
    let filled: Uint8Array;
    let keepFrom = p;
    const widened = compressed && !exact;
    if (widened) {
      try {
        const bounds = extentBounds(ctx, inode, runStart, runEnd, PAGE_SIZE);
        [runStart, runEnd] = bounds instanceof Promise ? await bounds : bounds;
      } catch (e) {
        // Widening maps the extents at the range's ends: where that fails, the pages are
        // filled as asked, which fails (or not) as the kernel's read of them does.
        if (!ErofsError.isInstance(e)) throw e;
        exactAt = p;
        continue;
      }
    } else if (compressed && ungatheredAt !== p) {
      // As asked, but with the pages the kernel's read of them gathers (READMORE, pageReadEnd).
      runEnd = await pageReadEnd(ctx, inode, runStart, runEnd);
    }
    try {
      if (!store && runStart >= offset && (runEnd <= end || (into && !packed && runEnd - offset <= into.length))) {
        // Handed over and not kept (whole extents, when compressed): filled straight into
        // the caller's bytes. A fill reaching past the request (an extent that ends in the
        // page after it) lands in the rest of the caller's buffer, whose contents do not
        // matter: only the pages past the request are copied out, to wait for the next
        // read as from a scratch fill, not the whole fill.
        const target = (runEnd <= end ? out : into!).subarray(runStart - offset, runEnd - offset);
        if (compressed) await fillCompressed(ctx, inode, runStart, runEnd, runStart, target, [p * PAGE_SIZE, askedEnd], exact);
        else await fillRange(ctx, inode, runStart, runEnd, target);
        for (let i = Math.floor(end / PAGE_SIZE); i * PAGE_SIZE < runEnd; i++) {
          if (finishes(i)) continue;
          const page = target.subarray(i * PAGE_SIZE - runStart, Math.min(runEnd, (i + 1) * PAGE_SIZE) - runStart);
          cache.put(owner, i, cache.copiesPages ? page : page.slice(), ctx.id);
        }
        p = Math.max(q, Math.ceil(runEnd / PAGE_SIZE));
        continue;
      }
      if (compressed) {
        // Widening to whole extents reaches back into the page the previous fill ended in,
        // which is cached: it is not filled again, or the extent before it (which only
        // that page shares) would be decoded a second time.
        keepFrom = runStart / PAGE_SIZE;
        while (keepFrom < p && cache.has(owner, keepFrom)) keepFrom++;
      }
      const fillFirst = runStart / PAGE_SIZE;
      const fillEnd = Math.ceil(runEnd / PAGE_SIZE);
      // Pages are views into the fill's buffer (see PageCache.put) when the cache keeps the
      // buffers it is given and keeps all of this one. Otherwise the fill goes into a
      // scratch buffer, reused by the next fill, and the pages kept are copies: made by the
      // cache (slabs) or here, as a view of a buffer only partly kept (pages before keepFrom
      // cached already, or pages handed to a caller that keeps them) would pin all of it.
      const asViews = !cache.copiesPages && keepFrom <= fillFirst && store;
      // A fill that lies inside the request goes straight into the caller's bytes when the
      // cache copies the pages it keeps anyway (slabs): one copy of it less. Not with
      // pages skipped before keepFrom (their bytes come from the cache), nor for the
      // packed inode (pages it keeps already are served from the cache).
      const direct = cache.copiesPages && !packed && keepFrom === fillFirst && runStart >= offset && runEnd <= end;
      const scratch = asViews || direct ? undefined : scratchBuffer(ctx, runEnd - runStart);
      const target = direct ? out.subarray(runStart - offset, runEnd - offset) : scratch;
      if (compressed) filled = await fillCompressed(ctx, inode, runStart, runEnd, keepFrom * PAGE_SIZE, target, [p * PAGE_SIZE, askedEnd], exact);
      else filled = await fillRange(ctx, inode, runStart, runEnd, target);
      // Where the request takes the fill's bytes up to: a packed page kept from before is
      // served from the cache instead, with the pages after it.
      let fillServesTo = runEnd;
      for (let i = Math.max(fillFirst, keepFrom); i < fillEnd; i++) {
        // Without store, pages before the request were handed over by earlier reads, and
        // pages it finishes go to the caller only: neither is copied into a page of its own.
        if (!store && (i < firstPage || finishes(i))) continue;
        // A packed page cached already keeps its bytes. One the kernel holds was read
        // before, maybe from another extent, and the kernel's read skips it; one it does
        // not hold is checked when it is read (see pagesToRefill). Its bytes are what this
        // request reads there too, not the fill's (real mutant 535785: a fragment over two
        // packed pages, the second read first by the fragment's next page and mapped on
        // its own to another extent, read that page's part from the first page's extent).
        if (packed && i > p && cache.has(owner, i)) {
          fillServesTo = Math.min(fillServesTo, i * PAGE_SIZE);
          continue;
        }
        const from = (i - fillFirst) * PAGE_SIZE;
        const to = Math.min(filled.length, from + PAGE_SIZE);
        const page = filled.subarray(from, to);
        cache.put(owner, i, asViews || cache.copiesPages ? page : page.slice(), ctx.id);
      }
      // The request's part of the fill, in one copy (pages before keepFrom were served already).
      const copyFrom = Math.max(offset, keepFrom * PAGE_SIZE);
      const copyTo = Math.min(end, fillServesTo);
      if (copyTo > copyFrom && !direct) out.set(filled.subarray(copyFrom - runStart, copyTo - runStart), copyFrom - offset);
      if (scratch) ctx.scratch.release([scratch]);
      p = fillServesTo < Math.min(end, runEnd) ? fillServesTo / PAGE_SIZE : Math.max(q, fillEnd);
    } catch (e) {
      // Widened to whole extents, a fill also decodes the pclusters that share its first
      // and last pages with the asked ones, and a fill of the packed inode the pclusters of
      // the next fragments. The kernel decodes only those of the pages it reads, so a
      // corrupt pcluster fails only the pages holding its bytes: the asked pages are filled
      // once more on their own before the error is believed. Not after a failed device
      // read that held an asked pcluster: the kernel's one I/O for it fails them too.
      if (!ErofsError.isInstance(e)) throw e;
      if (exact && runEnd > askedEnd && ungatheredAt !== p && !failsAskedPages(e)) {
        ungatheredAt = p;
        continue;
      }
      if (exact || (runStart === p * PAGE_SIZE && runEnd === askedEnd)) {
        if (compressed && !exact) await keepFailedPageRead(ctx, inode);
        throw e;
      }
      exactAt = p;
    }
  }
  return out;
}

/**
 * Where a chunk of a one-pass read (no page kept) from `pos` up to `end` had best end: at
 * the first page of the extent its last byte falls in, when that lies past `pos`. Such a
 * chunk holds whole extents and is decoded straight into the caller's buffer; one that
 * ends inside an extent decodes that extent into a scratch buffer, copies the chunk's part
 * out and keeps the rest as pages for the next chunk (a copy of every byte read, and a
 * page put and taken per chunk). Unchanged for uncompressed files, for a chunk inside one
 * extent, and where the extents cannot be mapped (the read itself then reports why).
 */
export async function wholeExtentsEnd(ctx: MountContext, inode: Inode, pos: number, end: number): Promise<number> {
  if (!isCompressedLayout(inode.datalayout) || end >= inode.size) return end;
  try {
    const bounds = extentBounds(ctx, inode, end - 1, end, PAGE_SIZE);
    const [from, to] = bounds instanceof Promise ? await bounds : bounds;
    return to > end && from > pos ? from : end;
  } catch (e) {
    if (ErofsError.isInstance(e)) return end;
    throw e;
  }
}

/**
 * Where an inode's pages live. The packed inode (fragments of many files) gets the
 * mount's own small cache: its bytes are copies of file content that the files' own pages
 * hold once read, so keeping them in the shared data cache would count content twice.
 */
function pageHome(ctx: MountContext, inode: Inode): { cache: PageCache; owner: CacheOwner; packed: boolean } {
  if (ctx.packed && inode.nid === ctx.packed.nid) return { cache: ctx.packedCache, owner: ctx.packedCache.owner(PACKED_OWNER), packed: true };
  return { cache: ctx.cache, owner: ctx.ownerOf(inode), packed: false };
}

function copyPagePart(page: Uint8Array, index: number, offset: number, end: number, out: Uint8Array): void {
  const pageStart = index * PAGE_SIZE;
  const from = Math.max(offset, pageStart);
  const to = Math.min(end, pageStart + page.length);
  if (to > from) out.set(page.subarray(from - pageStart, to - pageStart), from - offset);
}

/**
 * The exact bytes [start, end) of an uncompressed inode, read from its mapping (no cache),
 * into `out` or a new array. Whatever goes wrong fails EIO, as on a kernel mount: there
 * such pages are read through iomap, whose failures (a corrupt mapping as much as a read
 * past the device) leave the page not uptodate, which read(2) and readdir report as EIO.
 */
async function fillRange(ctx: MountContext, inode: Inode, start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
  try {
    return await fillMapped(ctx, inode, start, end, into);
  } catch (e) {
    if (!ErofsError.isInstance(e) || e.code === "EIO") throw e;
    throw new ErofsError("EIO", e.message, undefined, { cause: e });
  }
}

async function fillMapped(ctx: MountContext, inode: Inode, start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
  const out = into ?? new Uint8Array(end - start);
  let pos = start;
  // Each extent advances pos by at least one byte; bound the loop anyway.
  for (let guard = 0; pos < end; guard++) {
    if (guard > out.length) throw corrupted("mapping makes no progress", `nid ${inode.nid}`);
    const ext = await mapExtent(ctx, inode, pos);
    if (ext.length <= 0) throw corrupted(`empty extent at ${pos}`, `nid ${inode.nid}`);
    const take = Math.min(ext.length, end - pos);
    const target = out.subarray(pos - start, pos - start + take);
    if (ext.kind === "mapped") {
      const { source, position } = resolveDevice(ctx, ext.deviceId, ext.physical, take);
      await source.read(target, position);
    } else if (ext.kind === "inline") {
      target.set(await readInodeMetadata(ctx, inode, ext.physical, take));
    } else {
      // A hole: `out` may be a reused buffer, so its bytes are cleared.
      target.fill(0);
    }
    pos += take;
  }
  return out;
}

export async function mapExtent(ctx: MountContext, inode: Inode, logical: number): Promise<FlatExtent> {
  switch (inode.datalayout) {
    case DATALAYOUT.FLAT_PLAIN:
    case DATALAYOUT.FLAT_INLINE:
      return mapFlat(inode, ctx.sb, logical);
    case DATALAYOUT.CHUNK_BASED: {
      const chunkIndex = Math.floor(logical / pow2(inode.chunkBits));
      const entry = await readInodeMetadata(ctx, inode, chunkEntryOffset(inode, chunkIndex), chunkEntrySize(inode));
      return mapChunk(inode, ctx.sb, logical, entry, ctx.deviceMask);
    }
    default:
      throw unsupported(`data layout ${inode.datalayout}`, `nid ${inode.nid}`);
  }
}

/**
 * lseek(2) SEEK_DATA / SEEK_HOLE: the first offset at or after `offset` that holds data
 * (or lies in a hole). As the kernel's iomap answers: only chunk-based files (and flat
 * files without blocks) have holes; every file has an implicit hole at its end; an
 * offset at or past the end is ENXIO, and so is SEEK_DATA when only holes follow.
 */
export async function seekData(ctx: MountContext, inode: Inode, offset: number, want: "data" | "hole"): Promise<number> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= inode.size) {
    throw new ErofsError("ENXIO", `seek offset ${offset} is not inside the file`, `nid ${inode.nid}`);
  }
  if (isCompressedLayout(inode.datalayout)) return want === "data" ? offset : inode.size;
  let pos = offset;
  // Each extent moves pos forward by at least one byte, and each chunk-table entry it
  // reads lies inside the metadata (see below): the loop is bounded by the image.
  for (let steps = 1; pos < inode.size; steps++) {
    if (inode.datalayout === DATALAYOUT.CHUNK_BASED && chunkEntryPastMetadata(ctx, inode, pos)) {
      // Entries past the metadata's end read as zeros, as the kernel's do, and a zero
      // entry maps data (block 0): so does every chunk from here to the end of the file.
      // A file may claim 2^63 bytes: they are not walked a chunk at a time.
      return want === "data" ? pos : inode.size;
    }
    // Chunk tables in the metadata are walked from cached blocks, without a suspension:
    // other requests (a daemon's) get their turn now and then.
    if (steps % SEEK_STEPS_PER_TURN === 0) await new Promise((resume) => setImmediate(resume));
    const ext = await mapExtent(ctx, inode, pos);
    if (ext.length <= 0) throw corrupted(`empty extent at ${pos}`, `nid ${inode.nid}`);
    if ((ext.kind === "hole") === (want === "hole")) return pos;
    pos = Math.min(inode.size, pos + ext.length);
  }
  if (want === "hole") return inode.size;
  throw new ErofsError("ENXIO", "no data after this offset", `nid ${inode.nid}`);
}

/** Extents a seek maps before it lets the event loop run other work. */
const SEEK_STEPS_PER_TURN = 4096;

/** Whether the chunk-table entry for byte `pos` of a chunk-based inode starts past the end of its metadata. */
function chunkEntryPastMetadata(ctx: MountContext, inode: Inode, pos: number): boolean {
  return chunkEntryOffset(inode, Math.floor(pos / pow2(inode.chunkBits))) >= metadataEnd(ctx, inode);
}

/**
 * Which device holds a physical address: an explicit device id (chunk indexes), or, in
 * the unified address space, the extra device whose [uniaddr, uniaddr + blocks) covers it.
 * Device 0 is the image; without extra devices given (flat mode) theirs are read from it.
 */
export function devicePlace(ctx: MountContext, deviceId: number, physical: number, length: number): { device: number; position: number } {
  if (deviceId > 0) {
    if (deviceId > ctx.extra.length) throw corrupted(`device id ${deviceId} beyond ${ctx.extra.length} extra devices`);
    return { device: deviceId, position: physical };
  }
  if (ctx.flatDevices) return { device: 0, position: physical };
  const bs = ctx.sb.blockSize;
  for (let i = 0; i < ctx.slots.length; i++) {
    const slot = ctx.slots[i]!;
    if (!slot.uniaddr) continue;
    const from = slot.uniaddr * bs;
    if (physical >= from && physical < from + slot.blocks * bs) {
      if (!ctx.extra[i]) throw new ErofsError("EIO", `extra device ${i + 1} is not available`);
      if (physical + length > from + slot.blocks * bs) throw corrupted("extent crosses a device boundary");
      return { device: i + 1, position: physical - from };
    }
  }
  return { device: 0, position: physical };
}

/** devicePlace, as the source to read and the position on it. */
export function resolveDevice(
  ctx: MountContext,
  deviceId: number,
  physical: number,
  length: number,
): { source: BlockSource; position: number } {
  const { device, position } = devicePlace(ctx, deviceId, physical, length);
  return { source: device === 0 ? ctx.primary : ctx.extra[device - 1]!, position };
}
