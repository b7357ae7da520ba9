import {
  COMPAT,
  DATALAYOUT,
  DEVICE_SLOT_SIZE,
  EROFS_SUPER_OFFSET,
  chunkEntryOffset,
  chunkEntrySize,
  isCompressedLayout,
  loadZInfo,
  mapCompressed,
  mapFlat,
  nidInMetabox,
  parseDirBlock,
  type Inode,
  type Superblock,
} from "@erofs-ts/format";
import { mount } from "@erofs-ts/vfs";

/**
 * Where the structures of one valid image are, so mutations can aim at fields rather than
 * only at random bytes (a random flip mostly lands in file data and tests nothing). Built
 * once per image by walking it through the vfs while it is still valid.
 */

export type FieldKind =
  | "superblock"
  | "compr-cfg"
  | "device-slot"
  | "inode"
  | "size"
  | "blkaddr"
  | "xattr-count"
  | "xattr-prefix"
  | "xattr-entry"
  | "long-prefix"
  | "dirent-nid"
  | "dirent-nameoff"
  | "dirent-type"
  | "chunk"
  | "zmap-header"
  | "lcluster"
  | "compact-index"
  | "extent"
  | "pcluster-head";

/** A little-endian field of `width` bytes at file offset `at`. */
export interface Field {
  readonly kind: FieldKind;
  readonly at: number;
  readonly width: 1 | 2 | 4 | 8;
  /** For the mutation log: which structure and field. */
  readonly note: string;
}

export type RegionKind = "dirent-block" | "names" | "xattrs" | "zmap" | "pcluster" | "inline-data" | "metadata" | "shared-xattrs";

/** A byte range holding one structure (for flips and splices inside it). */
export interface Region {
  readonly kind: RegionKind;
  readonly at: number;
  readonly length: number;
  readonly note: string;
}

export interface FieldMap {
  readonly fields: readonly Field[];
  readonly regions: readonly Region[];
  /** Directory nids (root first): values that turn a dirent into a cycle. */
  readonly dirNids: readonly bigint[];
  readonly blockSize: number;
  /** The superblock carries a crc32c that mutations must redo to get past mount. */
  readonly checksummed: boolean;
  /** Number of inodes seen (for the log). */
  readonly inodes: number;
}

/** Bounds the walk on the large real/ images: a map needs variety, not every inode. */
const MAX_INODES = 4000;
const MAX_DIRENT_FIELDS_PER_BLOCK = 48;
const MAX_TABLE_ENTRIES = 64;

const SB_FIELDS: ReadonlyArray<readonly [number, 1 | 2 | 4 | 8, string]> = [
  [0, 4, "magic"],
  [4, 4, "checksum"],
  [8, 4, "feature_compat"],
  [12, 1, "blkszbits"],
  [13, 1, "sb_extslots"],
  [14, 2, "root_nid"],
  [16, 8, "inos"],
  [24, 8, "epoch"],
  [32, 4, "fixed_nsec"],
  [36, 4, "blocks"],
  [40, 4, "meta_blkaddr"],
  [44, 4, "xattr_blkaddr"],
  [80, 4, "feature_incompat"],
  [84, 2, "available_compr_algs"],
  [86, 2, "extra_devices"],
  [88, 2, "devt_slotoff"],
  [90, 1, "dirblkbits"],
  [91, 1, "xattr_prefix_count"],
  [92, 4, "xattr_prefix_start"],
  [96, 8, "packed_nid"],
  [104, 1, "xattr_filter_reserved"],
  [105, 1, "ishare_xattr_prefix_id"],
  [108, 4, "build_time"],
  [112, 8, "rootnid_8b"],
  [128, 8, "metabox_nid"],
];

export async function buildFieldMap(image: Uint8Array, devices: readonly string[], fsoffset: number): Promise<FieldMap> {
  const fields: Field[] = [];
  const regions: Region[] = [];
  const fsBytes = image.subarray(fsoffset);
  const at = (fsOff: number) => fsoffset + fsOff;
  const fs = await mount(image, { devices: [...devices], fsoffset, cacheBytes: 16 << 20 });
  const sb = fs.superblock;
  const bs = sb.blockSize;
  for (const [off, width, note] of SB_FIELDS) {
    if (off + width <= sb.size) fields.push({ kind: "superblock", at: at(EROFS_SUPER_OFFSET + off), width, note: `sb.${note}` });
  }
  // Compression configs: le16 length + payload records right after the superblock.
  for (let i = 0; i < 4; i++) {
    fields.push({ kind: "compr-cfg", at: at(EROFS_SUPER_OFFSET + sb.size + i * 4), width: 2, note: `compr cfg word ${i}` });
  }
  for (let d = 0; d < sb.extraDevices; d++) {
    const base = sb.devtSlotOff * DEVICE_SLOT_SIZE + d * DEVICE_SLOT_SIZE;
    fields.push({ kind: "device-slot", at: at(base + 64), width: 4, note: `device ${d}.blocks` });
    fields.push({ kind: "device-slot", at: at(base + 68), width: 4, note: `device ${d}.uniaddr` });
    fields.push({ kind: "device-slot", at: at(base + 72), width: 2, note: `device ${d}.blocks_hi` });
    fields.push({ kind: "device-slot", at: at(base), width: 8, note: `device ${d}.tag` });
  }
  if (sb.xattrPrefixCount && sb.featureCompat & COMPAT.PLAIN_XATTR_PFX) {
    let pos = sb.xattrPrefixStart * 4;
    for (let i = 0; i < sb.xattrPrefixCount && pos + 3 <= fsBytes.length; i++) {
      pos = (pos + 3) & ~3;
      const len = fsBytes[pos]! | (fsBytes[pos + 1]! << 8);
      fields.push({ kind: "long-prefix", at: at(pos), width: 2, note: `long prefix ${i}.len` });
      fields.push({ kind: "long-prefix", at: at(pos + 2), width: 1, note: `long prefix ${i}.base_index` });
      pos += 2 + len;
    }
  }
  if (sb.xattrBlkaddr) {
    const start = sb.xattrBlkaddr * bs;
    if (start < fsBytes.length) regions.push({ kind: "shared-xattrs", at: at(start), length: Math.min(bs, fsBytes.length - start), note: "shared xattr block" });
  }

  const dirNids: bigint[] = [];
  const seen = new Set<bigint>();
  const queue: bigint[] = [sb.rootNid];
  if (sb.packedNid) queue.push(sb.packedNid);
  if (sb.metaboxNid) queue.push(sb.metaboxNid);
  while (queue.length && seen.size < MAX_INODES) {
    const nid = queue.shift()!;
    if (seen.has(nid)) continue;
    seen.add(nid);
    let inode: Inode;
    try {
      inode = await fs.iget(nid);
    } catch {
      continue; // the map is best effort: a valid image should not get here
    }
    if (inode.kind === "dir") {
      dirNids.push(nid);
      try {
        for (const e of await fs.readdir(inode)) if (!seen.has(e.nid)) queue.push(e.nid);
      } catch {
        // as above
      }
    }
    if (nidInMetabox(nid)) continue; // its bytes live inside the metabox inode's data
    await inodeFields(inode, sb, fsBytes, at, fields, regions);
  }
  await fs.unmount();
  return { fields, regions, dirNids, blockSize: bs, checksummed: (sb.featureCompat & COMPAT.SB_CHKSUM) !== 0, inodes: seen.size };
}

async function inodeFields(
  inode: Inode,
  sb: Superblock,
  fsBytes: Uint8Array,
  at: (fsOff: number) => number,
  fields: Field[],
  regions: Region[],
): Promise<void> {
  const loc = inode.payloadOffset - inode.xattrSize - inode.inodeSize;
  const n = `nid ${inode.nid}`;
  fields.push({ kind: "inode", at: at(loc), width: 2, note: `${n}.i_format` });
  fields.push({ kind: "xattr-count", at: at(loc + 2), width: 2, note: `${n}.i_xattr_icount` });
  fields.push({ kind: "inode", at: at(loc + 4), width: 2, note: `${n}.i_mode` });
  fields.push({ kind: "inode", at: at(loc + 6), width: 2, note: `${n}.i_nb` });
  fields.push({ kind: "size", at: at(loc + 8), width: inode.extended ? 8 : 4, note: `${n}.i_size` });
  fields.push({ kind: "blkaddr", at: at(loc + 16), width: 4, note: `${n}.i_u` });
  if (inode.extended) fields.push({ kind: "inode", at: at(loc + 44), width: 4, note: `${n}.i_nlink` });

  if (inode.xattrSize) {
    const x = loc + inode.inodeSize;
    regions.push({ kind: "xattrs", at: at(x), length: inode.xattrSize, note: `${n} xattr body` });
    fields.push({ kind: "xattr-count", at: at(x + 4), width: 1, note: `${n}.h_shared_count` });
    fields.push({ kind: "xattr-entry", at: at(x), width: 4, note: `${n}.h_name_filter` });
    const shared = fsBytes[x + 4] ?? 0;
    for (let i = 0; i < shared; i++) fields.push({ kind: "xattr-entry", at: at(x + 12 + 4 * i), width: 4, note: `${n} shared xattr id ${i}` });
    // Inline entries: 4-byte header (name length, name index, le16 value size), padded to 4.
    for (let e = x + 12 + 4 * shared, i = 0; e + 4 <= x + inode.xattrSize && i < 32; i++) {
      fields.push({ kind: "xattr-entry", at: at(e), width: 1, note: `${n} xattr ${i}.e_name_len` });
      fields.push({ kind: "xattr-prefix", at: at(e + 1), width: 1, note: `${n} xattr ${i}.e_name_index` });
      fields.push({ kind: "xattr-entry", at: at(e + 2), width: 2, note: `${n} xattr ${i}.e_value_size` });
      e += (4 + fsBytes[e]! + (fsBytes[e + 2]! | (fsBytes[e + 3]! << 8)) + 3) & ~3;
    }
  }

  const bs = sb.blockSize;
  if (inode.datalayout === DATALAYOUT.FLAT_INLINE && inode.kind !== "dir" && inode.size % bs) {
    regions.push({ kind: "inline-data", at: at(inode.payloadOffset), length: Math.min(inode.size % bs, bs), note: `${n} inline tail` });
  }
  if (inode.kind === "dir" && (inode.datalayout === DATALAYOUT.FLAT_PLAIN || inode.datalayout === DATALAYOUT.FLAT_INLINE)) {
    const blocks = Math.ceil(inode.size / bs);
    const picks = new Set([0, 1, 2, blocks - 1].filter((b) => b >= 0 && b < blocks));
    for (const b of picks) direntFields(inode, sb, b, fsBytes, at, fields, regions);
  }
  if (inode.datalayout === DATALAYOUT.CHUNK_BASED) {
    const unit = chunkEntrySize(inode);
    const count = Math.min(MAX_TABLE_ENTRIES, Math.ceil(inode.size / 2 ** inode.chunkBits));
    for (let i = 0; i < count; i++) {
      const e = chunkEntryOffset(inode, i);
      if (unit === 8) {
        fields.push({ kind: "chunk", at: at(e), width: 2, note: `${n} chunk ${i}.startblk_hi` });
        fields.push({ kind: "chunk", at: at(e + 2), width: 2, note: `${n} chunk ${i}.device_id` });
        fields.push({ kind: "chunk", at: at(e + 4), width: 4, note: `${n} chunk ${i}.startblk_lo` });
      } else {
        fields.push({ kind: "chunk", at: at(e), width: 4, note: `${n} blockmap ${i}` });
      }
    }
  }
  if (isCompressedLayout(inode.datalayout)) await zmapFields(inode, sb, fsBytes, at, fields, regions);
}

function direntFields(
  inode: Inode,
  sb: Superblock,
  block: number,
  fsBytes: Uint8Array,
  at: (fsOff: number) => number,
  fields: Field[],
  regions: Region[],
): void {
  const bs = sb.blockSize;
  const n = `nid ${inode.nid}`;
  let start: number;
  try {
    const ext = mapFlat(inode, sb, block * bs);
    if (ext.kind === "hole") return;
    start = ext.physical;
  } catch {
    return;
  }
  const used = Math.min(bs, inode.size - block * bs);
  if (start + used > fsBytes.length) return;
  let count: number;
  try {
    count = parseDirBlock(fsBytes.subarray(start, start + used), used, "map").length;
  } catch {
    return;
  }
  regions.push({ kind: "dirent-block", at: at(start), length: used, note: `${n} dir block ${block}` });
  const namesAt = count * 12;
  regions.push({ kind: "names", at: at(start + namesAt), length: used - namesAt, note: `${n} dir block ${block} names` });
  for (let i = 0; i < Math.min(count, MAX_DIRENT_FIELDS_PER_BLOCK); i++) {
    const d = start + i * 12;
    fields.push({ kind: "dirent-nid", at: at(d), width: 8, note: `${n} block ${block} dirent ${i}.nid` });
    fields.push({ kind: "dirent-nameoff", at: at(d + 8), width: 2, note: `${n} block ${block} dirent ${i}.nameoff` });
    fields.push({ kind: "dirent-type", at: at(d + 10), width: 1, note: `${n} block ${block} dirent ${i}.file_type` });
  }
}

async function zmapFields(
  inode: Inode,
  sb: Superblock,
  fsBytes: Uint8Array,
  at: (fsOff: number) => number,
  fields: Field[],
  regions: Region[],
): Promise<void> {
  const n = `nid ${inode.nid}`;
  const h = Math.ceil(inode.payloadOffset / 8) * 8;
  if (h + 8 > fsBytes.length) return;
  fields.push({ kind: "zmap-header", at: at(h), width: 4, note: `${n}.h_fragmentoff` });
  fields.push({ kind: "zmap-header", at: at(h + 2), width: 2, note: `${n}.h_idata_size` });
  fields.push({ kind: "zmap-header", at: at(h + 4), width: 2, note: `${n}.h_advise` });
  fields.push({ kind: "zmap-header", at: at(h + 6), width: 1, note: `${n}.h_algorithmtype` });
  fields.push({ kind: "zmap-header", at: at(h + 7), width: 1, note: `${n}.h_clusterbits` });
  if (fsBytes[h + 7]! & 0x80) return; // the whole file is a fragment: no indexes
  const advise = fsBytes[h + 4]! | (fsBytes[h + 5]! << 8);
  const lclusterBits = sb.blockSizeBits + (fsBytes[h + 7]! & 15);
  const lclusters = Math.ceil(inode.size / 2 ** lclusterBits);
  if (inode.datalayout === DATALAYOUT.COMPRESSED_FULL && advise & 1) {
    // 48-bit encoded extents: records of 4..32 bytes after the header.
    const recsz = 4 << ((advise >> 1) & 3);
    const base = Math.ceil((h + 8) / recsz) * recsz;
    const len = Math.min(MAX_TABLE_ENTRIES * recsz, fsBytes.length - base);
    regions.push({ kind: "zmap", at: at(base), length: len, note: `${n} extents` });
    for (let i = 0; i * recsz < len && i < MAX_TABLE_ENTRIES; i++) {
      for (let w = 0; w < recsz; w += 4) fields.push({ kind: "extent", at: at(base + i * recsz + w), width: 4, note: `${n} extent ${i} word ${w / 4}` });
    }
  } else if (inode.datalayout === DATALAYOUT.COMPRESSED_FULL) {
    for (let i = 0; i <= Math.min(lclusters, MAX_TABLE_ENTRIES); i++) {
      const r = h + 16 + i * 8;
      fields.push({ kind: "lcluster", at: at(r), width: 2, note: `${n} lcluster ${i}.di_advise` });
      fields.push({ kind: "lcluster", at: at(r + 2), width: 2, note: `${n} lcluster ${i}.di_clusterofs` });
      fields.push({ kind: "lcluster", at: at(r + 4), width: 4, note: `${n} lcluster ${i}.di_u` });
    }
    regions.push({ kind: "zmap", at: at(h + 16), length: Math.min((lclusters + 1) * 8, 4096), note: `${n} lcluster indexes` });
  } else {
    const len = Math.min(Math.max(8, lclusters * 4), 4096, fsBytes.length - (h + 8));
    regions.push({ kind: "zmap", at: at(h + 8), length: len, note: `${n} compact indexes` });
    for (let w = 0; w < len && w < MAX_TABLE_ENTRIES * 4; w += 4) fields.push({ kind: "compact-index", at: at(h + 8 + w), width: 4, note: `${n} compact word ${w / 4}` });
  }
  await pclusterFields(inode, sb, fsBytes, at, fields, regions);
}

/** The first bytes of a few pclusters (after their zero padding): the codec headers. */
async function pclusterFields(
  inode: Inode,
  sb: Superblock,
  fsBytes: Uint8Array,
  at: (fsOff: number) => number,
  fields: Field[],
  regions: Region[],
): Promise<void> {
  // Straight from the valid image's bytes (metadata of non-metabox inodes is on the primary device).
  const read = async (o: number, l: number) => {
    if (o < 0 || o + l > fsBytes.length) throw new RangeError("outside");
    return fsBytes.subarray(o, o + l);
  };
  const n = `nid ${inode.nid}`;
  try {
    const z = await loadZInfo(inode, sb, read);
    for (const ofs of [0, Math.floor(inode.size / 2), inode.size - 1]) {
      if (ofs < 0 || ofs >= inode.size) continue;
      const ext = await mapCompressed(inode, sb, z, ofs, read);
      if (ext.kind !== "encoded" || ext.physical + ext.physicalLength > fsBytes.length) continue;
      let p = ext.physical;
      const end = ext.physical + Math.min(ext.physicalLength, sb.blockSize);
      while (p < end && fsBytes[p] === 0) p++;
      if (p >= end) continue;
      fields.push({ kind: "pcluster-head", at: at(p), width: 4, note: `${n} pcluster @${ext.physical} head` });
      regions.push({ kind: "pcluster", at: at(ext.physical), length: ext.physicalLength, note: `${n} pcluster @${ext.physical}` });
    }
  } catch {
    // best effort
  }
}
