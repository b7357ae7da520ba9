import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { COMPAT, EROFS_SUPER_OFFSET, superblockChecksum } from "@erofs-ts/format";

/** Fields of struct erofs_super_block, from its start. */
const CHECKSUM_FIELD = 0x04;
const FEATURE_COMPAT_FIELD = 0x08;
const BLKSZBITS_FIELD = 0x0c;
/** Bytes per nid slot: an inode's offset is its metadata area's start plus nid times this. */
const NID_SLOT = 32;

/** Whether Debian's dump.erofs is there to find inodes by path. */
export function canCorruptInodes(): boolean {
  return spawnSync("dump.erofs", ["--help"]).status !== null;
}

/**
 * A copy of `image`, written to `out`, in which the inodes at `paths` carry an i_format
 * with every bit set: no reader knows such an inode (the kernel answers EOPNOTSUPP), while
 * the directories listing them stay sound. Inodes are found by Debian's dump.erofs (an
 * independent reader of the image); only images with their inodes on the primary device
 * (no metabox) are handled.
 */
export function corruptInodes(image: string, out: string, paths: readonly string[]): string {
  const bytes = readFileSync(image);
  const blockSize = 2 ** bytes[EROFS_SUPER_OFFSET + BLKSZBITS_FIELD]!;
  const sb = execFileSync("dump.erofs", ["-s", image], { encoding: "utf8" });
  const metaStart = /inode metadata start block:\s*(\d+)/.exec(sb);
  if (!metaStart) throw new Error(`${image}: dump.erofs printed no metadata start block`);
  for (const path of paths) {
    const text = execFileSync("dump.erofs", [`--path=${path}`, image], { encoding: "utf8" });
    const nid = /NID:\s*(\d+)/.exec(text);
    if (!nid) throw new Error(`${image}: dump.erofs found no inode for ${path}`);
    const at = Number(metaStart[1]) * blockSize + Number(nid[1]) * NID_SLOT;
    bytes[at] = 0xff;
    bytes[at + 1] = 0xff;
  }
  // Inodes may share the superblock's block, which its checksum covers: it is made anew,
  // so that the inodes, not the superblock, are what the readers find wrong.
  if (bytes.readUInt32LE(EROFS_SUPER_OFFSET + FEATURE_COMPAT_FIELD) & COMPAT.SB_CHKSUM) {
    bytes.writeUInt32LE(superblockChecksum(bytes, blockSize), EROFS_SUPER_OFFSET + CHECKSUM_FIELD);
  }
  writeFileSync(out, bytes);
  return out;
}
