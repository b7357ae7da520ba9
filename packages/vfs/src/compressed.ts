import {
  ALG_INTERLACED,
  ALG_SHIFTED,
  INCOMPAT,
  corrupted,
  loadZInfo,
  mapCompressed,
  unsupported,
  type Inode,
  type ZExtent,
  type ZInfo,
} from "@erofs-ts/format";
import { createDecompressor, type Decompressor } from "@erofs-ts/decompress";
import type { MountContext } from "./context.js";
import { readData, resolveDevice } from "./data-path.js";
import { iget, readInodeMetadata } from "./metadata.js";

/**
 * Per-mount state of the compressed read path: inodes' map headers, decoders, and a
 * small budget of recently decoded extents so the page straddling two extents does not
 * cost a second decode of its neighbour during sequential reads.
 */
export class CompressedState {
  readonly zinfo = new Map<bigint, ZInfo>();
  readonly decoders = new Map<number, Decompressor>();
  readonly recent = new Map<string, Uint8Array>();
  recentBytes = 0;
  constructor(readonly recentBudget: number) {}
}

const ZINFO_ENTRIES = 16384;

async function zinfoOf(ctx: MountContext, inode: Inode): Promise<ZInfo> {
  const st = ctx.compressed;
  let z = st.zinfo.get(inode.nid);
  if (!z) {
    z = await loadZInfo(inode, ctx.sb, (o, l) => readInodeMetadata(ctx, inode, o, l));
    if (st.zinfo.size >= ZINFO_ENTRIES) st.zinfo.delete(st.zinfo.keys().next().value!);
    st.zinfo.set(inode.nid, z);
  }
  return z;
}

/** The extent of a compressed inode that holds logical byte `ofs`. */
export async function extentAt(ctx: MountContext, inode: Inode, ofs: number): Promise<ZExtent> {
  const z = await zinfoOf(ctx, inode);
  return mapCompressed(inode, ctx.sb, z, ofs, (o, l) => readInodeMetadata(ctx, inode, o, l));
}

/**
 * Page-aligned bounds covering every extent that overlaps [start, end): filling those
 * pages decodes each pcluster once, as the kernel fills all pages a pcluster decodes to.
 */
export async function extentBounds(ctx: MountContext, inode: Inode, start: number, end: number, pageSize: number): Promise<[number, number]> {
  const first = await extentAt(ctx, inode, start);
  const last = end - 1 >= first.logical + first.length ? await extentAt(ctx, inode, end - 1) : first;
  const from = Math.floor(first.logical / pageSize) * pageSize;
  const to = Math.min(inode.size, Math.ceil((last.logical + last.length) / pageSize) * pageSize);
  return [Math.min(from, start), Math.max(to, end)];
}

/** The exact bytes [start, end) of a compressed file. */
export async function fillCompressed(ctx: MountContext, inode: Inode, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let pos = start;
  while (pos < end) {
    const ext = await extentAt(ctx, inode, pos);
    const from = Math.max(pos, ext.logical);
    const to = Math.min(end, ext.logical + ext.length);
    if (ext.kind !== "hole") {
      const decoded = await decodedExtent(ctx, inode, ext);
      out.set(decoded.subarray(from - ext.logical, to - ext.logical), from - start);
    }
    pos = to;
  }
  return out;
}

async function decodedExtent(ctx: MountContext, inode: Inode, ext: ZExtent): Promise<Uint8Array> {
  const st = ctx.compressed;
  const key = `${inode.nid}:${ext.logical}`;
  const hit = st.recent.get(key);
  if (hit && hit.length === ext.length) {
    st.recent.delete(key);
    st.recent.set(key, hit);
    return hit;
  }
  const data = await decodeExtent(ctx, inode, ext);
  st.recent.set(key, data);
  st.recentBytes += data.length;
  while (st.recentBytes > st.recentBudget && st.recent.size > 1) {
    const [oldKey, old] = st.recent.entries().next().value!;
    st.recent.delete(oldKey);
    st.recentBytes -= old.length;
  }
  return data;
}

async function decodeExtent(ctx: MountContext, inode: Inode, ext: ZExtent): Promise<Uint8Array> {
  const where = `nid ${inode.nid}`;
  if (ext.kind === "fragment") {
    const packedNid = ctx.sb.packedNid;
    if (!packedNid || inode.nid === packedNid) throw corrupted("fragment without a usable packed inode", where);
    const packed = await iget(ctx, packedNid);
    if (ext.physical + ext.length > packed.size) throw corrupted("fragment beyond the packed inode", where);
    return readData(ctx, packed, ext.physical, ext.length);
  }
  let raw: Uint8Array;
  if (ext.kind === "inline") {
    raw = await readInodeMetadata(ctx, inode, ext.physical, ext.physicalLength);
  } else {
    raw = new Uint8Array(ext.physicalLength);
    const { source, position } = resolveDevice(ctx, 0, ext.physical, raw.length);
    await source.read(raw, position);
  }
  const bs = ctx.sb.blockSize;
  if (ext.algorithm === ALG_SHIFTED) {
    if (ext.length > raw.length) throw corrupted("stored pcluster shorter than its extent", where);
    return raw.slice(0, ext.length);
  }
  if (ext.algorithm === ALG_INTERLACED) {
    // Stored block rotated so that the extent's first byte sits at its in-block offset.
    if (ext.length > raw.length) throw corrupted("stored pcluster shorter than its extent", where);
    if (raw.length > bs) throw unsupported("interlaced pcluster larger than a block", where);
    const skip = ext.logical % bs;
    const right = Math.min(bs - skip, ext.length);
    const out = new Uint8Array(ext.length);
    out.set(raw.subarray(skip, skip + right));
    out.set(raw.subarray(0, ext.length - right), right);
    return out;
  }
  let dec = ctx.compressed.decoders.get(ext.algorithm);
  if (!dec) {
    const c = ctx.sb.compression;
    dec = createDecompressor(ext.algorithm, {
      lz4MaxDistance: c.lz4MaxDistance,
      lzmaDictSize: c.lzmaDictSize,
      deflateWindowBits: c.deflateWindowBits,
      zstdWindowLog: c.zstdWindowLog,
      zeroPadding: (ctx.sb.featureIncompat & INCOMPAT.ZERO_PADDING) !== 0,
      blockSize: ctx.sb.blockSize,
    });
    ctx.compressed.decoders.set(ext.algorithm, dec);
  }
  const out = new Uint8Array(ext.length);
  await dec.decode(raw, out, ext.partialRef || !ext.fullMapped);
  return out;
}
