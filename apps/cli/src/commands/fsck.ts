import { createHash } from "node:crypto";
import { ErofsError, onePassReads, xattrWithheldByVfs, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import type { Command } from "../context.js";
import { counted } from "../format/count.js";
import { toJson } from "../format/json.js";
import { displayName } from "../format/names.js";
import { walk } from "./walk.js";

const SHA256_PREFIX = new TextEncoder().encode("sha256:");

function isSha256Fingerprint(fp: Uint8Array): boolean {
  return fp.length === SHA256_PREFIX.length + 32 && SHA256_PREFIX.every((b, i) => fp[i] === b);
}

/**
 * Reads every listed attribute's value, as a lookup finds it, except names the kernel's
 * VFS never lets erofs read (user.* of a symlink, fifo or device, from a tar): such a name
 * is checked by the listing alone, which parsed its entry; it is no damage.
 */
async function checkXattrs(fs: ErofsFs, inode: Inode): Promise<void> {
  for (const n of await fs.listxattr(inode)) {
    if (!xattrWithheldByVfs(inode.kind, n)) await fs.getxattr(inode, n);
  }
}

export const fsckCommand: Command = {
  name: "fsck",
  summary: "walk every inode, decode every file, check sizes and sha256 fingerprints",
  usage: "fsck IMAGE [--json]",
  options: { json: { type: "boolean" } },
  minArgs: 0,
  maxArgs: 0,
  async run(ctx) {
    const { fs } = ctx;
    const counts = { inodes: 0, files: 0, dirs: 0, symlinks: 0, other: 0, bytes: 0, fingerprintsChecked: 0, errors: 0 };
    const seen = new Set<bigint>();
    // Each file is read once, chunk by chunk, and hashed before the next chunk is read.
    const stream = onePassReads();
    const unreadable = (path: Uint8Array, err: unknown) => {
      counts.errors++;
      ctx.report(displayName(path) || "/", err);
    };
    for await (const e of walk(fs, await fs.root(), new Uint8Array(0), unreadable)) {
      const where = displayName(e.path) || "/";
      try {
        if (seen.has(e.inode.nid)) {
          // Files may be hard-linked; a directory reached twice is a loop (mkfs never links them).
          if (e.inode.kind === "dir") throw new ErofsError("EFSCORRUPTED", "directory loop: this directory is reachable twice");
          continue;
        }
        seen.add(e.inode.nid);
        counts.inodes++;
        const s = fs.stat(e.inode);
        // Counted before anything is read, so that a failure below does not drop the inode from its kind.
        if (s.type === "dir") counts.dirs++;
        else if (s.type === "symlink") counts.symlinks++;
        else if (s.type === "file") counts.files++;
        else counts.other++;
        await checkXattrs(fs, e.inode);
        if (s.type === "symlink") await fs.readlink(e.inode);
        else if (s.type === "file") {
          // Hashing costs about as much as decoding lz4: only where there is a digest to check.
          const fp = await fs.fingerprint(e.inode);
          const digest = fp && isSha256Fingerprint(fp) ? fp.subarray(SHA256_PREFIX.length) : undefined;
          const h = digest ? createHash("sha256") : undefined;
          let n = 0;
          for await (const c of fs.readChunks(e.inode, stream)) {
            h?.update(c);
            n += c.length;
          }
          if (n !== s.size) throw new Error(`read ${n} bytes, size is ${s.size}`);
          counts.bytes += n;
          if (h && digest) {
            if (!h.digest().equals(Buffer.from(digest))) throw new Error("content does not match its sha256 fingerprint");
            counts.fingerprintsChecked++;
          }
        }
      } catch (err) {
        counts.errors++;
        ctx.report(where, err);
      }
    }
    // Past its end an image reads as zeros, as on a kernel mount: the walk goes on, and
    // the shortfall is reported here once.
    if (fs.metadataReadsPastEnd > 0) {
      counts.errors++;
      ctx.report("/", new ErofsError("EFSCORRUPTED", `${fs.metadataReadsPastEnd} metadata reads past the end of the image (read as zeros)`));
    }
    // Read as a kernel mount reads them, but damaged all the same.
    if (fs.shortStreams > 0) {
      counts.errors++;
      ctx.report("/", new ErofsError("EFSCORRUPTED", `${fs.shortStreams} DEFLATE pclusters end short of their last page (its missing bytes read as zeros)`));
    }
    if (ctx.options.json) await ctx.out.line(toJson(counts));
    else {
      await ctx.out.line(
        `${counted(counts.inodes, "inode")}: ${counted(counts.files, "file")} (${counted(counts.bytes, "byte")}), ${counted(counts.dirs, "directory", "directories")}, ${counted(counts.symlinks, "symlink")}, ${counts.other} other; ${counted(counts.fingerprintsChecked, "fingerprint")} verified; ${counted(counts.errors, "error")}`,
      );
    }
  },
};
