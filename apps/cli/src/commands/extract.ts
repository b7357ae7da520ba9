import { resolve } from "node:path";
import { systemErrorReason } from "@erofs-ts/format";
import { ErofsError, hasCapSysAdmin, type Inode } from "@erofs-ts/vfs";
import type { Command } from "../context.js";
import { counted } from "../format/count.js";
import { ReportedFailure } from "../errors.js";
import { DestinationError, makeDestination } from "../extract/destination.js";
import { DestinationFailed, Extractor } from "../extract/extractor.js";

export const extractCommand: Command = {
  name: "extract",
  summary: "extract the tree (or --path SUB) into DEST with modes, owners, times, xattrs, links",
  usage: "extract IMAGE DEST [--path SUB] [--force]",
  options: { path: { type: "string" }, force: { type: "boolean" } },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx) {
    const dest = resolve(ctx.args[0]!);
    const subPath = typeof ctx.options.path === "string" ? ctx.options.path : "";
    const sub = new TextEncoder().encode(subPath);
    let root: Inode;
    try {
      root = await ctx.fs.lookup(sub);
    } catch (e) {
      // Named by the --path asked for (as ls names its PATH), not by the image.
      ctx.report(subPath || "/", e);
      throw new ReportedFailure(1);
    }
    try {
      makeDestination(dest);
    } catch (e) {
      if (!(e instanceof DestinationError)) throw e;
      ctx.report(e.where, e);
      throw new ReportedFailure(1);
    }
    const isRoot = process.getuid?.() === 0;
    const tty = process.stderr.isTTY;
    const extractor = new Extractor(ctx.fs, dest, {
      force: Boolean(ctx.options.force),
      owners: isRoot,
      devices: isRoot,
      privilegedXattrs: hasCapSysAdmin(),
      onError: (where, e) => ctx.report(where, hostFailure(e, Boolean(ctx.options.force))),
      onWarning: (where, msg) => process.stderr.write(`erofs-cli: ${where}: warning: ${msg}\n`),
      ...(tty ? { onProgress: (n: number) => process.stderr.write(`\rextracting: ${n} entries`) } : {}),
    });
    const name = sub.subarray(sub.lastIndexOf(0x2f) + 1);
    try {
      await extractor.run(root, name.length ? name : new TextEncoder().encode("root"));
    } catch (e) {
      if (tty) process.stderr.write("\r\x1b[K");
      // The entry that met it is reported already; this line says why nothing follows.
      if (!(e instanceof DestinationFailed)) throw e;
      ctx.report(dest, new Error(`extraction stopped: ${systemErrorReason(e.failure)}`));
      throw new ReportedFailure(1);
    }
    if (tty) process.stderr.write("\r\x1b[K");
    const s = extractor.stats;
    if (tty) {
      process.stderr.write(
        `extracted ${counted(s.files, "file")} (${counted(s.bytes, "byte")}), ${counted(s.dirs, "directory", "directories")}, ${counted(s.symlinks, "symlink")}, ${counted(s.hardlinks, "hard link")}, ${counted(s.specials, "special file")}${s.skipped ? `, ${s.skipped} skipped` : ""}\n`,
      );
    }
  },
};

/**
 * A failed write into DEST, reported under the entry's path in the image: Node's message
 * names the host path and the call ("EEXIST: file already exists, open '/d/x'"), which
 * says less than the reason and its code, and what would get past an existing file.
 */
function hostFailure(e: unknown, force: boolean): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (ErofsError.isInstance(e) || typeof code !== "string") return e;
  const hint = code === "EEXIST" && !force ? "; --force replaces it" : "";
  return new Error(`cannot write it in DEST: ${systemErrorReason(e)}${hint}`);
}
