import {
  ErofsError,
  corrupted,
  inodeLocation,
  nidInMetabox,
  parseInode,
  type Inode,
  type MetaSpan,
} from "@erofs-ts/format";
import type { MountContext } from "./context.js";
import { readData } from "./data-path.js";
import { lruGet, lruSet } from "./lru.js";

/**
 * Reads metadata bytes: from the primary device, or (for metabox inodes and, with the
 * matching compat bit, shared xattrs) from the metabox inode's data.
 */
export async function readMetadata(ctx: MountContext, offset: number, length: number, inMetabox: boolean): Promise<Uint8Array> {
  if (!inMetabox) return ctx.meta.read(offset, length);
  const box = ctx.metabox;
  if (!box) throw corrupted("metabox nid used in an image without a metabox", "metabox");
  // Past the metabox's size the kernel's page cache of it holds zeros.
  if (offset + length <= box.size) return readData(ctx, box, offset, length);
  const out = new Uint8Array(length);
  if (offset < box.size) out.set(await readData(ctx, box, offset, box.size - offset));
  return out;
}

/** Where the inode's metadata space ends: past it, reads give zeros (see readMetadata). */
export function metadataEnd(ctx: MountContext, inode: Inode): number {
  if (!nidInMetabox(inode.nid)) return ctx.meta.deviceSize;
  return ctx.metabox?.size ?? 0;
}

/**
 * The inode for `nid`, from the cache or the image. Not an async function: an inode
 * cached, or in a metadata block already read (a walk's neighbours share blocks), is
 * answered without a suspension.
 */
export function iget(ctx: MountContext, nid: bigint): Promise<Inode> {
  const cached = lruGet(ctx.inodes, nid) ?? (ctx.sharing ? undefined : igetInMemory(ctx, nid));
  return cached ? Promise.resolve(cached) : igetRead(ctx, nid);
}

/**
 * The inode parsed from a cached metadata block, and cached, or undefined when its bytes
 * must be read, and also when they are damaged: igetRead then reads them and fails, as
 * it always has.
 */
function igetInMemory(ctx: MountContext, nid: bigint): Inode | undefined {
  if (nidInMetabox(nid)) return undefined;
  const { offset } = inodeLocation(ctx.sb, nid);
  const compact = cachedMetadata(ctx, offset, 32);
  // Bit 0 of i_format: an extended inode, 64 bytes (which may end in the next block).
  const bytes = compact && compact[0]! & 1 ? cachedMetadata(ctx, offset, 64) : compact;
  if (!bytes) return undefined;
  let inode: Inode;
  try {
    inode = parseInode(bytes, ctx.sb, nid, offset);
  } catch (e) {
    if (ErofsError.isInstance(e)) return undefined;
    throw e;
  }
  lruSet(ctx.inodes, nid, inode, ctx.inodeCacheEntries);
  return inode;
}

async function igetRead(ctx: MountContext, nid: bigint): Promise<Inode> {
  const loc = inodeLocation(ctx.sb, nid);
  const inMetabox = nidInMetabox(nid);
  // An inode past the end reads as zeros (see MetaBlockReader), which parseInode refuses.
  let bytes = await readMetadata(ctx, loc.offset, 32, inMetabox);
  if (bytes[0]! & 1) bytes = await readMetadata(ctx, loc.offset, 64, inMetabox);
  const inode = parseInode(bytes, ctx.sb, nid, loc.offset);
  lruSet(ctx.inodes, nid, inode, ctx.inodeCacheEntries);
  if (ctx.sharing) await ctx.sharing.attach(inode);
  return inode;
}

/**
 * The inode's metadata bytes [offset, offset + length) if already in memory (see
 * MetaPeek): cached blocks of the primary device. Metabox inodes always read.
 */
export function peekInodeMetadata(ctx: MountContext, inode: Inode, offset: number, length: number, into: MetaSpan): boolean {
  return !nidInMetabox(inode.nid) && ctx.meta.peek(offset, length, into);
}

/** The inode's metadata bytes [offset, offset + length) as a view of a cached block, or undefined where they must be read. */
export function inodeMetadataInMemory(ctx: MountContext, inode: Inode, offset: number, length: number): Uint8Array | undefined {
  return nidInMetabox(inode.nid) ? undefined : cachedMetadata(ctx, offset, length);
}

const NO_BYTES = new Uint8Array(0);

/** Primary-device metadata bytes [offset, offset + length) as a view of a cached block, or undefined. */
function cachedMetadata(ctx: MountContext, offset: number, length: number): Uint8Array | undefined {
  const span: MetaSpan = { bytes: NO_BYTES, start: 0 };
  if (!ctx.meta.peek(offset, length, span)) return undefined;
  const at = offset - span.start;
  return span.bytes.subarray(at, at + length);
}

/** Bytes of the inode's metadata space (inline tail, chunk table, xattrs) at `offset`. */
export function readInodeMetadata(ctx: MountContext, inode: Inode, offset: number, length: number): Promise<Uint8Array> {
  return readMetadata(ctx, offset, length, nidInMetabox(inode.nid));
}

export function expectKind(inode: Inode, kind: Inode["kind"], path?: string): void {
  if (inode.kind === kind) return;
  if (kind === "dir") throw new ErofsError("ENOTDIR", "not a directory", path);
  if (inode.kind === "dir") throw new ErofsError("EISDIR", "is a directory", path);
  throw new ErofsError("EINVAL", `not a ${kind}`, path);
}
