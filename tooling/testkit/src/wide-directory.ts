import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dumpExtents } from "./dump-extents.js";

/** Entries of the wide directory, and the name of entry `i` (sorted as the index). */
export const WIDE_ENTRIES = 3000;
export function wideEntryName(i: number): string {
  return `entry-${String(i).padStart(5, "0")}-${"x".repeat(30 + (i % 11))}`;
}

/** Whether Debian's erofs-utils are there: mkfs.erofs makes the image, dump.erofs finds its blocks. */
export function canMakeWideImage(): boolean {
  return ["mkfs.erofs", "dump.erofs"].every((tool) => spawnSync(tool, ["--help"]).status !== null);
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
