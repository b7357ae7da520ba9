import { writeFile } from "node:fs/promises";
import { buildFingerprintIndex } from "@erofs-ts/vfs";
import type { Command } from "../context.js";

/**
 * Page cache sharing for images made without fingerprints: computes what
 * `mkfs.erofs --xattr-inode-digest` would have stored for every regular file into an
 * index that `erofs-cli share --fingerprints` and the `fingerprints=` mount option use.
 */
export const fingerprintsCommand: Command = {
  name: "fingerprints",
  summary: "compute sha256 fingerprints of every regular file into an index (for inode_share)",
  usage: "fingerprints IMAGE [-o FILE]",
  options: { output: { type: "string", short: "o" } },
  minArgs: 0,
  maxArgs: 0,
  async run(ctx) {
    const index = await buildFingerprintIndex(ctx.fs);
    const file = ctx.options.output;
    if (typeof file === "string") await writeFile(file, index);
    else await ctx.out.write(index);
  },
};
