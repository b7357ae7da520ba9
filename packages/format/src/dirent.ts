import { EROFS_NAME_LEN } from "./constants.js";
import { corrupted, type ErofsError } from "./errors.js";
import { ByteReader } from "./reader.js";

/** struct erofs_dirent: 12 bytes (le64 nid, le16 nameoff, u8 file_type, u8 reserved). */
export const DIRENT_SIZE = 12;

export interface DirEntry {
  readonly nid: bigint;
  /** Raw name bytes (any bytes but NUL and '/'; not necessarily UTF-8). */
  readonly name: Uint8Array;
  readonly fileType: number;
}

/** A directory block's dirents as the kernel's readdir emits them: up to the first bad one. */
export interface DirBlockPrefix {
  /** The dirents before the first bad one (all of them when none is bad). */
  readonly entries: DirEntry[];
  /** Why the listing stops after `entries`, or null when the whole block is sound. */
  readonly failure: ErofsError | null;
}

/**
 * Decodes one directory block. Dirents sit at the front, names packed after them; the
 * first dirent's nameoff tells how many dirents there are, each name runs to the next
 * dirent's nameoff, and the last one to the first NUL or the end of the block's used
 * part (`usedSize`: the block size, or what is left of i_size in the last block).
 * Throws at the first bad dirent (see parseDirBlockPrefix for the dirents before it).
 */
export function parseDirBlock(block: Uint8Array, usedSize: number, where: string): DirEntry[] {
  const { entries, failure } = parseDirBlockPrefix(block, usedSize, where);
  if (failure) throw failure;
  return entries;
}

/**
 * parseDirBlock as the kernel's readdir reads a block: it hands out each dirent before it
 * checks the next, so a bad dirent ends the listing after the ones before it (a bad first
 * nameoff, which sizes the whole block, ends it before any).
 */
export function parseDirBlockPrefix(block: Uint8Array, usedSize: number, where: string): DirBlockPrefix {
  if (usedSize > block.length) return { entries: [], failure: corrupted(`directory block shorter than ${usedSize}`, where) };
  const r = new ByteReader(block.subarray(0, usedSize), where);
  const firstNameoff = r.u16(8);
  if (firstNameoff < DIRENT_SIZE || firstNameoff >= usedSize || firstNameoff % DIRENT_SIZE !== 0) {
    return { entries: [], failure: corrupted(`bogus first dirent nameoff ${firstNameoff}`, where) };
  }
  const count = firstNameoff / DIRENT_SIZE;
  const entries: DirEntry[] = [];
  let nameoff = firstNameoff;
  for (let i = 0; i < count; i++) {
    const at = i * DIRENT_SIZE;
    if (i > 0) nameoff = r.u16(at + 8);
    let namelen: number;
    if (i + 1 < count) {
      namelen = r.u16(at + DIRENT_SIZE + 8) - nameoff;
    } else {
      if (nameoff >= usedSize) return { entries, failure: corrupted(`dirent ${i} name offset ${nameoff} past block`, where) };
      const nul = block.subarray(nameoff, usedSize).indexOf(0);
      namelen = nul < 0 ? usedSize - nameoff : nul;
    }
    if (namelen < 1 || namelen > EROFS_NAME_LEN || nameoff + namelen > usedSize) {
      return { entries, failure: corrupted(`bogus dirent ${i} (name at ${nameoff}, length ${namelen})`, where) };
    }
    entries.push({ nid: r.u64(at), name: block.subarray(nameoff, nameoff + namelen), fileType: r.u8(at + 10) });
  }
  return { entries, failure: null };
}

/** Byte-wise comparison, the order mkfs sorts dirents in (strcmp on raw bytes). */
export function compareNames(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
