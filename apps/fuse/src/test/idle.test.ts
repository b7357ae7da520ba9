import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, daemonPerTest, type MountStats } from "./harness.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

/** Paths of the regular files under `dir` whose size `wanted` accepts. */
function filesSized(dir: string, wanted: (size: number) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesSized(p, wanted));
    else if (st?.isFile() && wanted(st.size)) out.push(p);
  }
  return out;
}

/**
 * Once a burst of requests is over, each mount lets go of its read buffers. Seen through
 * the decoded zstd extents a mount keeps for the page two extents share, the decoded
 * fragments, and its free scratch and reply buffers: there after reading app-a-zstd's
 * files, gone once the daemon has been idle a second or two.
 */
describe.skipIf(!FUSE_AVAILABLE || !corpus)("erofs-fuse when idle", () => {
  const slot = daemonPerTest();

  it("lets go of the decoded extents, the decoded fragments and the free buffers kept for the next fills", async () => {
    const daemon = (slot.daemon = await FuseDaemon.start([{ image: join(corpus!, "real/app-a-zstd.erofs") }]));
    const files = filesSized(daemon.mountpoints[0]!, (size) => size > 1 << 20);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) readFileSync(f);
    // Small files lie whole in the packed inode (mkfs -Efragments).
    const small = filesSized(daemon.mountpoints[0]!, (size) => size > 0 && size <= 16 << 10);
    expect(small.length).toBeGreaterThan(100);
    for (const f of small) readFileSync(f);
    const busy = (await daemon.stats()).mounts[0]!;
    const kept = busy.decodedExtents;
    expect(kept.bytes).toBeGreaterThan(0);
    expect(kept.bytes).toBeLessThanOrEqual(kept.budgetBytes + (12 << 20));
    expect(busy.packedCache.bytes).toBeGreaterThan(0);
    expect(busy.packedCache.bytes).toBeLessThanOrEqual(busy.packedCache.budgetBytes);
    expect(busy.scratchBytes + busy.replyBufferBytes).toBeGreaterThan(0);
    const held = (m: MountStats) => m.decodedExtents.bytes + m.packedCache.bytes + m.scratchBytes + m.replyBufferBytes;
    const deadline = Date.now() + 10_000;
    while (held((await daemon.stats()).mounts[0]!) > 0) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the idle release of read buffers");
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it("keeps no bookkeeping for the files it has served: cache owners only for pages it holds, a bounded count of parsed inodes", async () => {
    const daemon = (slot.daemon = await FuseDaemon.start([{ image: join(corpus!, "real/app-b.erofs") }]));
    const files = filesSized(daemon.mountpoints[0]!, () => true);
    let dirs = 0;
    const countDirs = (dir: string): void => {
      dirs++;
      for (const name of readdirSync(dir)) {
        const st = statSync(join(dir, name), { throwIfNoEntry: false });
        if (st?.isDirectory()) countDirs(join(dir, name));
      }
    };
    countDirs(daemon.mountpoints[0]!);
    expect(files.length).toBeGreaterThan(1000);
    for (const f of files) readFileSync(f);
    const stats = await daemon.stats();
    // The kernel caches these files' pages: the daemon keeps none of them, and no owner
    // for them either (it kept one per file served until unmount). What it may still own
    // are directory blocks and the last pages of an extent a read ended inside.
    expect(stats.cache.owners).toBeLessThan(dirs + 50);
    expect(stats.mounts[0]!.inodesKept).toBeGreaterThan(0);
    expect(stats.mounts[0]!.inodesKept).toBeLessThanOrEqual(16384);
  });

  it("keeps more decoded fragments for LZMA, DEFLATE and Zstandard images than for an LZ4 one (decoding them again costs more than the memory)", async () => {
    const images = ["real/app-a-lzma.erofs", "real/app-a-deflate.erofs", "real/app-a-zstd.erofs", "real/app-a-lz4.erofs"];
    const daemon = (slot.daemon = await FuseDaemon.start(images.map((i) => ({ image: join(corpus!, i) }))));
    const [lzma, deflate, zstd, lz4] = (await daemon.stats()).mounts.map((m) => m.packedCache.budgetBytes);
    expect(lzma).toBeGreaterThan(lz4!);
    expect(deflate).toBe(lzma);
    expect(zstd).toBe(lzma);
  });
});
