import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Entries of the wide directory, and the name of entry `i` (sorted as the index). */
export const WIDE_ENTRIES = 3000;
export function wideEntryName(i: number): string {
  return `entry-${String(i).padStart(5, "0")}-${"x".repeat(30 + (i % 11))}`;
}

/** Whether mkfs.erofs (Debian's erofs-utils) is there to make the image. */
export function canMakeWideImage(): boolean {
  return spawnSync("mkfs.erofs", ["--help"]).status !== null;
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
 * A copy of a wide image with one whole directory block of `/wide` corrupt (its first
 * nameoff zeroed): block `blocks - 2` of the directory, which starts at `startBlock`
 * (the last block may sit inline after the inode, so it is not the one). 4 KiB blocks.
 */
export function corruptWideBlock(image: string, startBlock: number, dirSize: number, out: string): string {
  const bytes = readFileSync(image);
  const at = (startBlock + Math.ceil(dirSize / 4096) - 2) * 4096;
  bytes[at + 8] = 0;
  bytes[at + 9] = 0;
  writeFileSync(out, bytes);
  return out;
}
