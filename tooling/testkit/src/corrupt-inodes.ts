import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { imageBlockSize, resealSuperblock } from "./reseal.js";
import { hasCommand } from "./commands.js";

/** Bytes per nid slot: an inode's offset is its metadata area's start plus nid times this. */
const NID_SLOT = 32;
/** struct erofs_dirent: nid (8 bytes), nameoff (2), file_type, reserved. */
const DIRENT_SIZE = 12;
/** i_format's data layout (bits 1-3) for a flat file whose tail sits after the inode. */
const FLAT_INLINE = 2;

/** Whether Debian's dump.erofs is there to find inodes by path. */
export function canCorruptInodes(): boolean {
  return hasCommand("dump.erofs");
}

/**
 * An image's inodes, found by Debian's dump.erofs (an independent reader of the image).
 * Only images with their inodes on the primary device (no metabox) are handled.
 */
class InodeLocator {
  readonly #image: string;
  readonly #metaStart: number;

  constructor(image: string, bytes: Buffer) {
    this.#image = image;
    const sb = execFileSync("dump.erofs", ["-s", image], { encoding: "utf8" });
    const metaStart = /inode metadata start block:\s*(\d+)/.exec(sb);
    if (!metaStart) throw new Error(`${image}: dump.erofs printed no metadata start block`);
    this.#metaStart = Number(metaStart[1]) * imageBlockSize(bytes);
  }

  nid(path: string): bigint {
    const text = execFileSync("dump.erofs", [`--path=${path}`, this.#image], { encoding: "utf8" });
    const nid = /NID:\s*(\d+)/.exec(text);
    if (!nid) throw new Error(`${this.#image}: dump.erofs found no inode for ${path}`);
    return BigInt(nid[1]!);
  }

  offset(nid: bigint): number {
    return this.#metaStart + Number(nid) * NID_SLOT;
  }
}

/**
 * A copy of `image`, written to `out`, in which the inodes at `paths` carry an i_format
 * with every bit set: no reader knows such an inode (the kernel answers EOPNOTSUPP), while
 * the directories listing them stay sound.
 */
export function corruptInodes(image: string, out: string, paths: readonly string[]): string {
  const bytes = readFileSync(image);
  const inodes = new InodeLocator(image, bytes);
  for (const path of paths) {
    const at = inodes.offset(inodes.nid(path));
    bytes[at] = 0xff;
    bytes[at + 1] = 0xff;
  }
  writeFileSync(out, resealSuperblock(bytes));
  return out;
}

/** i_size in struct erofs_inode_extended: 64 bits at byte 8 (compact inodes hold 32). */
const EXTENDED_I_SIZE = 8;

/**
 * A copy of `image`, written to `out`, in which the inode at `path` states an i_size of
 * `size` (any 64-bit value). That inode must be extended (mkfs.erofs writes extended
 * inodes for owners above 65535, e.g. with --force-uid=100000).
 */
export function resizeInode(image: string, out: string, path: string, size: bigint): string {
  const bytes = readFileSync(image);
  const inodes = new InodeLocator(image, bytes);
  const at = inodes.offset(inodes.nid(path));
  if (!(bytes[at]! & 1)) throw new Error(`${image}: the inode of ${path} is compact, its i_size 32 bits`);
  bytes.writeBigUInt64LE(size, at + EXTENDED_I_SIZE);
  writeFileSync(out, resealSuperblock(bytes));
  return out;
}

/** Where an inline directory's dirents start in the image, and how many there are. */
function inlineDirents(bytes: Buffer, inodes: InodeLocator, image: string, dir: string): { tail: number; entries: number } {
  const at = inodes.offset(inodes.nid(dir));
  const format = bytes.readUInt16LE(at);
  const icount = bytes.readUInt16LE(at + 2);
  if (((format >> 1) & 7) !== FLAT_INLINE) throw new Error(`${image}: ${dir} is not stored inline`);
  // The tail follows the inode (32 or 64 bytes by i_format bit 0) and its xattr body.
  const tail = at + (format & 1 ? 64 : 32) + (icount ? 12 + 4 * (icount - 1) : 0);
  // The first entry's name offset is where the names start: the entries come before it.
  return { tail, entries: Math.floor(bytes.readUInt16LE(tail + 8) / DIRENT_SIZE) };
}

/**
 * A copy of `image`, written to `out`, whose entry `dir/name` names the inode at `target`
 * instead of its own (a hard link no mkfs would write when `target` is a directory).
 * `dir` must be stored inline after its inode, in one block, as small directories are.
 */
export function repointEntry(image: string, out: string, dir: string, name: string, target: string): string {
  return rewriteEntryNid(image, out, dir, name, (_, inodes) => inodes.nid(target));
}

/**
 * A copy of `image`, written to `out`, whose entry `dir/name` holds the nid `renumber`
 * makes of its own (a bit flipped, say), whether or not an inode is there. `dir` must be
 * stored inline, as for repointEntry.
 */
export function renumberEntry(image: string, out: string, dir: string, name: string, renumber: (nid: bigint) => bigint): string {
  return rewriteEntryNid(image, out, dir, name, renumber);
}

function rewriteEntryNid(image: string, out: string, dir: string, name: string, next: (nid: bigint, inodes: InodeLocator) => bigint): string {
  const bytes = readFileSync(image);
  const inodes = new InodeLocator(image, bytes);
  const { tail, entries } = inlineDirents(bytes, inodes, image, dir);
  const from = inodes.nid(`${dir}/${name}`);
  for (let i = 0; i < entries; i++) {
    const entry = tail + i * DIRENT_SIZE;
    if (bytes.readBigUInt64LE(entry) !== from) continue;
    bytes.writeBigUInt64LE(next(from, inodes), entry);
    writeFileSync(out, resealSuperblock(bytes));
    return out;
  }
  throw new Error(`${image}: no entry of ${dir} names the inode of ${name}`);
}

/**
 * A copy of `image`, written to `out`, whose entry `dir/name` is named `newName` instead,
 * of the same length, any bytes (a '/' among them, which no directory may hold). `dir`
 * must be stored inline, as for repointEntry.
 */
export function renameEntry(image: string, out: string, dir: string, name: string, newName: string): string {
  const bytes = readFileSync(image);
  const inodes = new InodeLocator(image, bytes);
  const { tail, entries } = inlineDirents(bytes, inodes, image, dir);
  const from = Buffer.from(name, "latin1");
  const to = Buffer.from(newName, "latin1");
  if (to.length !== from.length) throw new Error(`renameEntry: ${newName} is not as long as ${name}`);
  for (let i = 0; i < entries; i++) {
    const at = tail + bytes.readUInt16LE(tail + i * DIRENT_SIZE + 8);
    // A name runs to the next one's offset; the last one to the directory's end (taken as
    // the name's length here).
    const end = i + 1 < entries ? tail + bytes.readUInt16LE(tail + (i + 1) * DIRENT_SIZE + 8) : at + from.length;
    if (end - at !== from.length || !bytes.subarray(at, end).equals(from)) continue;
    to.copy(bytes, at);
    writeFileSync(out, resealSuperblock(bytes));
    return out;
  }
  throw new Error(`${image}: ${dir} has no entry ${name}`);
}
