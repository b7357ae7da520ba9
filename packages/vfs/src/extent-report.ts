import { ALG_INTERLACED, ALG_SHIFTED, COMPRESSION, corrupted, isCompressedLayout, nidInMetabox, type Inode, type ZExtent } from "@erofs-ts/format";
import type { MountContext } from "./context.js";
import { extentReportedAt } from "./compressed.js";
import { devicePlace, mapExtent } from "./data-path.js";

/**
 * How an extent's bytes are stored: in blocks as they are ("data"), inline in the inode's
 * metadata block after it (an uncompressed file's tail), in a pcluster ("compressed"; an
 * inline one for a tail-packed compressed tail), or in the packed inode ("fragment").
 */
export type FileExtentKind = "data" | "inline" | "compressed" | "fragment";

/**
 * One extent of a regular file or a directory, as the kernel's FIEMAP reports it on a
 * mount of the image (holes are left out), with what FIEMAP does not say: the device, the
 * pcluster's size and format, and whether the pcluster is shared.
 */
export interface FileExtent {
  /** The first byte of the file it holds. */
  readonly logical: number;
  /**
   * How many bytes of the file from `logical`. Blocks of uncompressed data count whole, so
   * the last such extent may run past the end of the file, as the kernel reports it.
   */
  readonly length: number;
  readonly kind: FileExtentKind;
  /**
   * The device its bytes lie on: 0 the image, N its Nth extra device. Mounted without its
   * devices, an image's extra devices are read from the image itself (the kernel's flat
   * mode): then 0. None where the bytes lie inside another inode: the packed inode (a
   * fragment) or the metabox (inline bytes of an inode stored there).
   */
  readonly device?: number;
  /**
   * The byte offset of its bytes on that device, from the start of the device's file
   * (on the image, past any fsoffset=); without a device, inside the inode holding them.
   */
  readonly physical: number;
  /** Bytes stored: the pcluster's size (compressed), else the bytes the extent holds. */
  readonly physicalLength: number;
  /** The pcluster's format: lz4, lzma, deflate, zstd, or uncompressed ("plain", "interlaced"). */
  readonly format?: string;
  /** The pcluster decodes to more than this extent (deduplicated): only part of it is this file's. */
  readonly partial?: boolean;
}

/** Extents reported before the generator lets the event loop run other work. */
const EXTENTS_PER_TURN = 4096;

/**
 * The extents of a regular file or a directory in order, mapped as the kernel's FIEMAP
 * maps them: one per chunk of a chunk-based file, one per decompression unit of a
 * compressed one. Lazy: a damaged map fails at the extent it reaches, and the caller may
 * stop at any point.
 */
export async function* fileExtents(ctx: MountContext, inode: Inode): AsyncGenerator<FileExtent> {
  const extents = isCompressedLayout(inode.datalayout) ? compressedExtents(ctx, inode) : uncompressedExtents(ctx, inode);
  let count = 0;
  for await (const e of extents) {
    yield e;
    // A damaged chunk table past the metadata maps every chunk of a huge file to block 0,
    // one extent each: other requests get their turn now and then.
    if (++count % EXTENTS_PER_TURN === 0) await new Promise((resume) => setImmediate(resume));
  }
}

async function* uncompressedExtents(ctx: MountContext, inode: Inode): AsyncGenerator<FileExtent> {
  const bs = ctx.sb.blockSize;
  for (let pos = 0; pos < inode.size; ) {
    const ext = await mapExtent(ctx, inode, pos);
    if (ext.length <= 0) throw corrupted(`empty extent at ${pos}`, `nid ${inode.nid}`);
    if (ext.kind === "inline") {
      yield { logical: ext.logical, length: ext.length, kind: "inline", ...metadataPlace(ctx, inode, ext.physical), physicalLength: ext.length };
    } else if (ext.kind === "mapped") {
      // The kernel maps whole blocks: a chunk's last one counts whole past the file's end.
      const length = Math.ceil((ext.logical + ext.length) / bs) * bs - ext.logical;
      yield { logical: ext.logical, length, kind: "data", ...kernelPlace(ctx, ext.deviceId, ext.physical, length), physicalLength: length };
    }
    pos = ext.logical + ext.length;
  }
}

async function* compressedExtents(ctx: MountContext, inode: Inode): AsyncGenerator<FileExtent> {
  for (let pos = 0; pos < inode.size; ) {
    const ext = await extentReportedAt(ctx, inode, pos);
    const end = ext.logical + ext.length;
    // mapCompressed checks that an extent covers the byte asked: each step moves on.
    if (ext.kind !== "hole") yield reportCompressed(ctx, inode, ext, Math.min(end, inode.size));
    pos = end;
  }
}

function reportCompressed(ctx: MountContext, inode: Inode, ext: ZExtent, end: number): FileExtent {
  const length = end - ext.logical;
  switch (ext.kind) {
    case "fragment":
      return { logical: ext.logical, length, kind: "fragment", physical: ext.physical, physicalLength: length };
    case "inline":
      return { logical: ext.logical, length, kind: "compressed", ...metadataPlace(ctx, inode, ext.physical), physicalLength: ext.physicalLength, ...pclusterFacts(ext) };
    default:
      return { logical: ext.logical, length, kind: "compressed", ...kernelPlace(ctx, 0, ext.physical, ext.physicalLength), physicalLength: ext.physicalLength, ...pclusterFacts(ext) };
  }
}

function pclusterFacts(ext: ZExtent): { format: string; partial?: true } {
  return { format: formatName(ext.algorithm), ...(ext.partialRef ? { partial: true } : {}) };
}

/**
 * Where an extent's bytes lie on its device: devicePlace, counted from the start of the
 * image file (fsoffset= included) on device 0, where flat mode also reads extra devices'
 * blocks, as the kernel counts them.
 */
function kernelPlace(ctx: MountContext, deviceId: number, physical: number, length: number): { device: number; physical: number } {
  const { device, position } = devicePlace(ctx, deviceId, physical, length);
  if (device === 0) return { device, physical: ctx.fsoffset + position };
  if (ctx.flatDevices) return { device: 0, physical: ctx.fsoffset + ctx.slots[device - 1]!.uniaddr * ctx.sb.blockSize + position };
  return { device, physical: position };
}

/** Where bytes in an inode's metadata lie: in the image, or (no device) inside the metabox for an inode stored there. */
function metadataPlace(ctx: MountContext, inode: Inode, offset: number): { device?: number; physical: number } {
  return nidInMetabox(inode.nid) ? { physical: offset } : { device: 0, physical: ctx.fsoffset + offset };
}

const FORMAT_NAMES: Record<number, string> = {
  [COMPRESSION.LZ4]: "lz4",
  [COMPRESSION.LZMA]: "lzma",
  [COMPRESSION.DEFLATE]: "deflate",
  [COMPRESSION.ZSTD]: "zstd",
  [ALG_SHIFTED]: "plain",
  [ALG_INTERLACED]: "interlaced",
};

function formatName(algorithm: number): string {
  return FORMAT_NAMES[algorithm] ?? `format ${algorithm}`;
}
