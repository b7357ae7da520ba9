import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dumpExtents } from "./dump-extents.js";
import { seededRandom } from "./random.js";
import { hasCommand } from "./commands.js";

/** Entries of the wide directory, and the name of entry `i` (sorted as the index). */
export const WIDE_ENTRIES = 3000;
export function wideEntryName(i: number): string {
  return `entry-${String(i).padStart(5, "0")}-${"x".repeat(30 + (i % 11))}`;
}

/** Whether Debian's erofs-utils are there: mkfs.erofs makes the image, dump.erofs finds its blocks. */
export function canMakeWideImage(): boolean {
  return ["mkfs.erofs", "dump.erofs"].every((tool) => hasCommand(tool));
}

/**
 * An image (plain, 4 KiB blocks, made by mkfs.erofs) whose directory `/wide` holds
 * WIDE_ENTRIES files over ~40 directory blocks; written under `dir`.
 */
export function makeWideImage(dir: string): string {
  const tree = join(dir, "wide-tree");
  mkdirSync(join(tree, "wide"), { recursive: true });
  for (let i = 0; i < WIDE_ENTRIES; i++) writeFileSync(join(tree, "wide", wideEntryName(i)), `${i}\n`);
  const image = join(dir, "wide.erofs");
  execFileSync("mkfs.erofs", ["-T0", image, tree], { stdio: "ignore" });
  return image;
}

/**
 * A copy of a wide image, written to `out`, with one whole directory block of `/wide`
 * corrupt (its first nameoff zeroed): the last block stored in place, as dump.erofs
 * lists the directory's extents (its tail may sit inline after the inode).
 */
export function corruptWideBlock(image: string, out: string): string {
  const inPlace = dumpExtents(image, "/wide")[0];
  if (!inPlace || inPlace.physical[1] - inPlace.physical[0] < 2 * 4096) throw new Error(`${image}: /wide has no run of blocks stored in place`);
  const bytes = readFileSync(image);
  const at = inPlace.physical[1] - 4096;
  bytes[at + 8] = 0;
  bytes[at + 9] = 0;
  writeFileSync(out, bytes);
  return out;
}

/**
 * A copy of a wide image, written to `out`, in which dirent `index` of the last block of
 * `/wide` stored in place is bad: the next dirent's nameoff is set below its own, so its
 * name has a negative length. The block's first nameoff (which sizes it) stays sound.
 */
export function corruptWideDirent(image: string, out: string, index: number): string {
  const inPlace = dumpExtents(image, "/wide")[0];
  if (!inPlace || inPlace.physical[1] - inPlace.physical[0] < 4096) throw new Error(`${image}: /wide has no block stored in place`);
  const bytes = readFileSync(image);
  const block = inPlace.physical[1] - 4096;
  const nameoffAt = (i: number) => block + i * 12 + 8;
  if (index + 1 >= bytes.readUInt16LE(block + 8) / 12) throw new Error(`${image}: no dirent after ${index} in the block`);
  bytes.writeUInt16LE(bytes.readUInt16LE(nameoffAt(index)) - 1, nameoffAt(index + 1));
  writeFileSync(out, bytes);
  return out;
}

/** What scrambled names are made of: never NUL or '/', and sorting anywhere among the others. */
const NAME_BYTES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-";

/**
 * A copy of a wide image, written to `out`, in which names of `/wide` stored in place are
 * overwritten by other names of the same length, so that the directory's names are out
 * of order as no mkfs writes them: the first name of every `blockStride`th block, and
 * every `entryStride`th name, each keep a prefix of random length and get random bytes
 * after it (from `seed`). Returns the new names.
 */
export function scrambleWideNames(image: string, out: string, seed: number, blockStride = 3, entryStride = 7): string[] {
  const inPlace = dumpExtents(image, "/wide")[0];
  if (!inPlace) throw new Error(`${image}: /wide has no blocks stored in place`);
  const bytes = readFileSync(image);
  // The same names for the same seed.
  const next = seededRandom(seed);
  const renamed: string[] = [];
  for (let block = inPlace.physical[0], b = 0; block < inPlace.physical[1]; block += 4096, b++) {
    const count = bytes.readUInt16LE(block + 8) / 12;
    for (let i = 0; i < count; i++) {
      const chosen = i === 0 ? b % blockStride === 0 : i % entryStride === 0;
      if (!chosen) continue;
      const from = block + bytes.readUInt16LE(block + i * 12 + 8);
      const nul = bytes.subarray(from, block + 4096).indexOf(0);
      const to = i + 1 < count ? block + bytes.readUInt16LE(block + (i + 1) * 12 + 8) : nul < 0 ? block + 4096 : from + nul;
      const keep = next() % (to - from);
      for (let at = from + keep; at < to; at++) bytes[at] = NAME_BYTES.charCodeAt(next() % NAME_BYTES.length);
      renamed.push(bytes.subarray(from, to).toString("latin1"));
    }
  }
  writeFileSync(out, bytes);
  return renamed;
}
