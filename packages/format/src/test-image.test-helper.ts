import { crc32c } from "./crc32c.js";

/** Builds a minimal superblock image by hand, with the fields tests vary. */
export function buildSuperblock(fields: {
  blkszbits?: number;
  compat?: number;
  incompat?: number;
  rootNid?: number;
  extslots?: number;
  magic?: number;
  checksum?: "valid" | number;
  ishareId?: number;
  prefixCount?: number;
  blocks?: number;
  dirblkbits?: number;
}): Uint8Array {
  const blkszbits = fields.blkszbits ?? 12;
  const img = new Uint8Array(Math.max(1 << blkszbits, 1024) + 1024 + 4096);
  const dv = new DataView(img.buffer);
  const at = 1024;
  dv.setUint32(at, fields.magic ?? 0xe0f5e1e2, true);
  dv.setUint32(at + 8, fields.compat ?? 0, true);
  img[at + 12] = blkszbits;
  img[at + 13] = fields.extslots ?? 0;
  dv.setUint16(at + 14, fields.rootNid ?? 36, true);
  dv.setUint32(at + 36, fields.blocks ?? 10, true);
  dv.setUint32(at + 80, fields.incompat ?? 0, true);
  img[at + 90] = fields.dirblkbits ?? 0;
  img[at + 91] = fields.prefixCount ?? 0;
  img[at + 105] = fields.ishareId ?? 0;
  if (fields.checksum === "valid") {
    const bs = 1 << blkszbits;
    const len = bs > 1024 ? bs - 1024 : bs;
    dv.setUint32(at + 4, crc32c(0xffffffff, img.subarray(at, at + len)), true);
  } else if (typeof fields.checksum === "number") {
    dv.setUint32(at + 4, fields.checksum, true);
  }
  return img;
}

/** A compact (32-byte) inode with these fields; the rest zero, one link unless `nb` says. */
export function compactInode(f: { ifmt?: number; mode: number; nb?: number; size?: number; mtime?: number; iu?: number; uid?: number; gid?: number; icount?: number }): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, f.ifmt ?? 0, true);
  dv.setUint16(2, f.icount ?? 0, true);
  dv.setUint16(4, f.mode, true);
  dv.setUint16(6, f.nb ?? 1, true);
  dv.setUint32(8, f.size ?? 0, true);
  dv.setUint32(12, f.mtime ?? 0, true);
  dv.setUint32(16, f.iu ?? 0, true);
  dv.setUint16(24, f.uid ?? 0, true);
  dv.setUint16(26, f.gid ?? 0, true);
  return b;
}
