import { COMPAT, INCOMPAT } from "@erofs-ts/format";
import type { Command } from "../context.js";
import { toJson } from "../format/json.js";
import { jsonName } from "../format/names.js";

const COMPAT_NAMES: Record<number, string> = {
  [COMPAT.SB_CHKSUM]: "sb_csum",
  [COMPAT.MTIME]: "mtime",
  [COMPAT.XATTR_FILTER]: "xattr_filter",
  [COMPAT.SHARED_EA_IN_METABOX]: "shared_ea_in_metabox",
  [COMPAT.PLAIN_XATTR_PFX]: "plain_xattr_pfx",
  [COMPAT.ISHARE_XATTRS]: "ishare_xattrs",
};
const INCOMPAT_NAMES: Record<number, string> = {
  [INCOMPAT.ZERO_PADDING]: "0padding",
  [INCOMPAT.COMPR_CFGS]: "compr_cfgs/big_pcluster",
  [INCOMPAT.CHUNKED_FILE]: "chunked_file",
  [INCOMPAT.DEVICE_TABLE]: "device_table/compr_head2",
  [INCOMPAT.ZTAILPACKING]: "ztailpacking",
  [INCOMPAT.FRAGMENTS]: "fragments/dedupe",
  [INCOMPAT.XATTR_PREFIXES]: "xattr_prefixes",
  [INCOMPAT.BIT48]: "48bit",
  [INCOMPAT.METABOX]: "metabox",
};
const ALGORITHMS = ["lz4", "lzma", "deflate", "zstd"];

function names(bits: number, table: Record<number, string>): string[] {
  const out: string[] = [];
  for (let b = 1; b !== 0 && b <= bits; b <<= 1) if (bits & b) out.push(table[b] ?? `0x${b.toString(16)}`);
  return out;
}

export const infoCommand: Command = {
  name: "info",
  summary: "show the superblock: block size, features, label, inode count, compression (and a composefs image's format)",
  usage: "info IMAGE [--json]",
  options: { json: { type: "boolean" } },
  minArgs: 0,
  maxArgs: 0,
  async run({ fs, out, options }) {
    const sb = fs.superblock;
    const st = fs.statfs();
    const uuid = Buffer.from(sb.uuid).toString("hex").replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
    const algorithms = ALGORITHMS.filter((_, i) => sb.compression.availableAlgorithms & (1 << i) && sb.featureIncompat & INCOMPAT.COMPR_CFGS);
    const info = {
      blockSize: sb.blockSize,
      blocks: st.blocks,
      inodes: sb.inodeCount,
      rootNid: sb.rootNid,
      uuid,
      label: jsonName(sb.volumeName),
      buildTime: sb.epoch + BigInt(sb.buildTime),
      featuresCompat: names(sb.featureCompat, COMPAT_NAMES),
      featuresIncompat: names(sb.featureIncompat, INCOMPAT_NAMES),
      compression: algorithms,
      extraDevices: sb.extraDevices,
      metaBlkaddr: sb.metaBlkaddr,
      xattrBlkaddr: sb.xattrBlkaddr,
      packedNid: sb.packedNid,
      metaboxNid: sb.metaboxNid,
      // mkcomposefs's header before the superblock: the composefs format the image follows.
      composefs: fs.composefs,
    };
    if (options.json) return out.line(toJson(info));
    const label = typeof info.label === "string" ? info.label : `(b64) ${info.label.b64}`;
    const rows: Array<[string, string]> = [
      ["block size", String(info.blockSize)],
      ["blocks", String(info.blocks)],
      ["inodes", String(info.inodes)],
      ["root nid", String(info.rootNid)],
      ["uuid", uuid],
      ["label", label],
      ["build time", new Date(Number(info.buildTime) * 1000).toISOString()],
      ["compat features", info.featuresCompat.join(" ") || "-"],
      ["incompat features", info.featuresIncompat.join(" ") || "-"],
      ["compression", algorithms.join(" ") || (sb.featureIncompat & INCOMPAT.ZERO_PADDING ? "lz4" : "-")],
      ["extra devices", String(info.extraDevices)],
    ];
    const cfs = info.composefs;
    if (cfs) rows.push(["composefs", `format version ${cfs.formatVersion} (header version ${cfs.headerVersion}${cfs.hasAcl ? ", POSIX ACLs" : ""})`]);
    for (const [k, v] of rows) await out.line(`${(k + ":").padEnd(20)}${v}`);
  },
};
