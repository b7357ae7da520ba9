import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus } from "@erofs-ts/testkit";
import { mount } from "@erofs-ts/vfs";
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

/** Waits until every mount has let go of its read buffers (the daemon's idle release). */
async function waitForIdleRelease(daemon: FuseDaemon): Promise<void> {
  const held = (m: MountStats) => m.decodedExtents.bytes + m.packedCache.bytes + m.scratchBytes + m.replyBufferBytes;
  const deadline = Date.now() + 10_000;
  while ((await daemon.stats()).mounts.some((m) => held(m) > 0)) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the idle release of read buffers");
    await new Promise((r) => setTimeout(r, 250));
  }
}

const V8_PAGE_BYTES = 256 << 10;

/** Resident bytes of a process's anonymous mappings of V8's heap page size (256 KiB). */
function residentV8Pages(pid: number): number {
  let bytes = 0;
  let isPage = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(\S*)/.exec(line);
    if (m) isPage = m[3] === "" && parseInt(m[2]!, 16) - parseInt(m[1]!, 16) === V8_PAGE_BYTES;
    else if (isPage && line.startsWith("Rss:")) bytes += Number(line.split(/\s+/)[1]) * 1024;
  }
  return bytes;
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
    await waitForIdleRelease(daemon);
  });

  it("gives back the heap pages its idle collection empties: V8's resident pages are its heap's, not more", async () => {
    const daemon = (slot.daemon = await FuseDaemon.start([{ image: join(corpus!, "real/app-a.erofs") }, { image: join(corpus!, "real/app-b.erofs") }]));
    for (const m of daemon.mountpoints) for (const f of filesSized(m, () => true)) readFileSync(f);
    await waitForIdleRelease(daemon);
    // The malloc trim follows the collection by a quarter of a second.
    await new Promise((r) => setTimeout(r, 1000));
    const { heapTotalBytes } = await daemon.stats();
    // Node 22 and later keep the pages a collection empties, resident, for V8's next
    // allocations unless the collection is a last-resort one: after these reads on Node 24,
    // 35 MB of them against a heap of 22 MB.
    expect(residentV8Pages(daemon.pid)).toBeLessThanOrEqual(heapTotalBytes + (4 << 20));
  });

  it("gives its young generation back once idle: what a walk grew it to, down to V8's starting size", async () => {
    const daemon = (slot.daemon = await FuseDaemon.start([{ image: join(corpus!, "real/app-a.erofs") }, { image: join(corpus!, "real/app-b.erofs") }]));
    for (const m of daemon.mountpoints) for (const f of filesSized(m, () => true)) readFileSync(f);
    const busy = (await daemon.stats()).youngGenerationBytes;
    expect(busy).toBeGreaterThanOrEqual(2 << 20);
    await waitForIdleRelease(daemon);
    // The young collections after the idle release take ~0.6 s (Node 20; Node 22 on, the
    // release's own collection shrinks it).
    let idle = busy;
    const deadline = Date.now() + 5000;
    while ((idle = (await daemon.stats()).youngGenerationBytes) > 1.1 * (1 << 20) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(idle).toBeLessThanOrEqual(1.1 * (1 << 20));
  });

  it("keeps no bookkeeping for the files it has served: cache owners only for pages it holds, a bounded count of parsed inodes, no map headers once idle", async () => {
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
    const digests = files.map((f) => createHash("sha256").update(readFileSync(f)).digest("hex"));
    const stats = await daemon.stats();
    // The kernel caches these files' pages: the daemon keeps none of them, and no owner
    // for them either (it kept one per file served until unmount). What it may still own
    // are directory blocks and the last pages of an extent a read ended inside.
    expect(stats.cache.owners).toBeLessThan(dirs + 50);
    expect(stats.mounts[0]!.inodesKept).toBeGreaterThan(0);
    expect(stats.mounts[0]!.inodesKept).toBeLessThanOrEqual(16384);
    expect(stats.mounts[0]!.mapHeadersKept).toBeGreaterThan(1000);
    // Once idle, the compressed files' map headers go (a file read again reads the block
    // they are in anyway); the parsed inodes stay, for a kernel that looks them up again.
    const deadline = Date.now() + 10_000;
    while ((await daemon.stats()).mounts[0]!.mapHeadersKept > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const idle = (await daemon.stats()).mounts[0]!;
    expect(idle.mapHeadersKept).toBe(0);
    expect(idle.inodesKept).toBe(stats.mounts[0]!.inodesKept);
    // Files read after, once the kernel has let go of them too: the same bytes.
    writeFileSync("/proc/sys/vm/drop_caches", "3");
    files.forEach((f, i) => expect(createHash("sha256").update(readFileSync(f)).digest("hex"), f).toBe(digests[i]));
    expect((await daemon.stats()).mounts[0]!.mapHeadersKept).toBeGreaterThan(1000);
  });

  it("a walk of app-a (lz4hc, its tails in a 22.8 MB packed inode) decodes each packed page about once", async () => {
    const image = join(corpus!, "real/app-a.erofs");
    const fs = await mount(image);
    const packedPages = Math.ceil((await fs.iget(fs.superblock.packedNid)).size / 4096);
    await fs.unmount();
    const daemon = (slot.daemon = await FuseDaemon.start([{ image }]));
    // Every file in turn, as a walk reads them (filesSized lists the tree depth first).
    for (const path of filesSized(daemon.mountpoints[0]!, () => true)) readFileSync(path);
    const { packedCache } = (await daemon.stats()).mounts[0]!;
    // Identical tails share a fragment, and files are not read in the order their tails
    // were packed: with 2 MiB of decoded fragments this walk decoded 2.45 pages for each
    // packed page; with 8 MiB, 1.40.
    expect(packedCache.fills).toBeGreaterThanOrEqual(packedPages);
    expect(packedCache.fills).toBeLessThan(1.6 * packedPages);
  });
});
