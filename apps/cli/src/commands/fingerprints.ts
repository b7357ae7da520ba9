import { open, rename, rm } from "node:fs/promises";
import { systemErrorReason } from "@erofs-ts/format";
import { buildFingerprintIndex } from "@erofs-ts/vfs";
import type { Command, CommandContext } from "../context.js";
import { ReportedFailure } from "../errors.js";

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
    const file = ctx.options.output;
    if (typeof file !== "string") {
      await ctx.out.write(await buildFingerprintIndex(ctx.fs));
      return;
    }
    // The index goes to a file beside FILE that replaces it only once whole: an index from
    // an earlier run survives a failure, and an unwritable FILE fails before the reading.
    const partial = `${file}.partial-${process.pid}`;
    const handle = await open(partial, "wx").catch((e: unknown) => fail(ctx, file, e));
    try {
      const index = await buildFingerprintIndex(ctx.fs);
      // A failed write (a full disk) is FILE's failure, not the image's.
      await handle.writeFile(index).catch((e: unknown) => fail(ctx, file, e));
      await handle.close().catch((e: unknown) => fail(ctx, file, e));
      await rename(partial, file).catch((e: unknown) => fail(ctx, file, e));
    } catch (e) {
      await handle.close().catch(() => {});
      await rm(partial, { force: true });
      throw e;
    }
  },
};

/** Reports why FILE cannot be written, naming FILE (not the image), and ends the command. */
function fail(ctx: CommandContext, file: string, e: unknown): never {
  ctx.report(file, new Error(`cannot write the index: ${systemErrorReason(e)}`));
  throw new ReportedFailure(1);
}
