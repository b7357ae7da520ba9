import { FingerprintIndex, PageCache, mount, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { byteCountOption } from "../command-line.js";
import type { MultiImageCommand, MultiImageContext } from "../context.js";
import { toJson } from "../format/json.js";
import { walk, type WalkErrorHandler } from "./walk.js";

const MB = 1e6;

/**
 * Reads every regular file of several images, one after another, through one page cache
 * with inode_share (or without, for comparison) and reports what the cache holds: the
 * memory that sharing saves, shown in one process.
 */
export const shareCommand: MultiImageCommand = {
  name: "share",
  summary: "read every file of the images through one shared page cache and show its stats",
  usage: "share IMAGE... [--domain-id ID] [--fingerprints F]... [--no-share] [--cache-size N] [--json]",
  options: {
    "domain-id": { type: "string" },
    fingerprints: { type: "string", multiple: true },
    "no-share": { type: "boolean" },
    "cache-size": { type: "string" },
    json: { type: "boolean" },
  },
  async runImages(ctx) {
    const budget = ctx.options["cache-size"] === undefined ? 2 * 2 ** 30 : cacheSize(ctx.options["cache-size"] as string, ctx);
    // Each index names the image it was made for, so they can be given in any order.
    const indexes = await Promise.all(((ctx.options.fingerprints as string[] | undefined) ?? []).map((f) => FingerprintIndex.load(f)));
    const cache = new PageCache({ budgetBytes: budget });
    const inodeShare = !ctx.options["no-share"];
    const domainId = typeof ctx.options["domain-id"] === "string" ? ctx.options["domain-id"] : undefined;
    const rows: Array<{ image: string; files: number; bytes: number; sharedFiles: number; cacheBytesAfter: number; seconds: number; notices: string[] }> = [];
    const mounted: ErofsFs[] = [];
    try {
      for (const image of ctx.images) {
        const probe = await mount(image, { cacheBytes: 1 << 20, syncReads: true });
        const id = FingerprintIndex.imageIdOf(probe.superblock);
        await probe.unmount();
        const fingerprints = indexes.find((x) => x.imageId === id);
        const fs = await mount(image, { cache, inodeShare, syncReads: true, ...(domainId !== undefined ? { domainId } : {}), ...(fingerprints ? { fingerprints } : {}) });
        mounted.push(fs);
        const t0 = performance.now();
        const files = await regularFiles(fs);
        let bytes = 0;
        for (const f of files) for await (const c of fs.readChunks(f)) bytes += c.length;
        rows.push({
          image,
          files: files.length,
          bytes,
          sharedFiles: files.filter((f) => fs.isShared(f)).length,
          cacheBytesAfter: cache.stats().bytes,
          seconds: (performance.now() - t0) / 1000,
          notices: fs.notices,
        });
      }
      const s = cache.stats();
      const content = rows.reduce((n, r) => n + r.bytes, 0);
      if (ctx.options.json) {
        await ctx.out.line(toJson({ inodeShare, images: rows, cache: s, contentBytes: content }));
        return;
      }
      for (const r of rows) {
        for (const n of r.notices) process.stderr.write(`erofs-cli: ${r.image}: ${n}\n`);
        await ctx.out.line(
          `${r.image}: ${r.files} files, ${(r.bytes / MB).toFixed(1)} MB read in ${r.seconds.toFixed(2)} s, ${r.sharedFiles} shared; cache now ${(r.cacheBytesAfter / MB).toFixed(1)} MB`,
        );
      }
      await ctx.out.line(
        `cache: ${s.pages} pages, ${(s.bytes / MB).toFixed(1)} MB for ${(content / MB).toFixed(1)} MB of content ` +
          `(${((1 - s.bytes / Math.max(1, content)) * 100).toFixed(1)}% saved); ${s.hits} hits, ${s.misses} misses, ${s.fills} fills, ` +
          `${(s.sharedBytesServed / MB).toFixed(1)} MB served from pages another image filled`,
      );
    } finally {
      for (const fs of mounted) await fs.unmount().catch(() => undefined);
    }
  },
};

/** The first fault ends the walk: a measurement over a damaged tree would mean nothing. */
const stopAtFault: WalkErrorHandler = (_path, error) => {
  throw error;
};

/** Every regular file of the image in walk order, each inode once (hard links too). */
async function regularFiles(fs: ErofsFs): Promise<Inode[]> {
  const out: Inode[] = [];
  const seen = new Set<bigint>();
  for await (const { inode } of walk(fs, await fs.root(), new Uint8Array(0), stopAtFault)) {
    if (inode.kind !== "file" || seen.has(inode.nid)) continue;
    seen.add(inode.nid);
    out.push(inode);
  }
  return out;
}

/** --cache-size: a byte count as --offset takes one (decimal or 0x hex), and not 0. */
function cacheSize(text: string, ctx: MultiImageContext): number {
  const bytes = byteCountOption(text, "--cache-size", ctx.usageError);
  if (bytes === 0) throw ctx.usageError("--cache-size must be more than 0");
  return bytes;
}
