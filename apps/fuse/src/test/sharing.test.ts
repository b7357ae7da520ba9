import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { mount, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { CORPUS_ABSENT, ensureCorpus, loadManifest, nameBytes } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, type DaemonStats } from "./harness.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const appA = corpus ? join(corpus, "real/app-a.erofs") : "";
const appB = corpus ? join(corpus, "real/app-b.erofs") : "";

interface FileFact {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** hex of the ishare fingerprint, or null for a file that is not shared. */
  readonly fingerprint: string | null;
}

/**
 * Bytes of directories and symlinks: the daemon reads them through its cache too (as
 * private pages), so they come on top of file content.
 */
function metadataBytes(image: string): number {
  const m = loadManifest(image.replace(/\.erofs$/, ".manifest.json"));
  return m.entries.filter((e) => e.type === "dir" || e.type === "symlink").reduce((n, e) => n + e.size, 0);
}

/** Every regular file of an image with its manifest hash and (from the vfs) its fingerprint. */
async function facts(image: string): Promise<FileFact[]> {
  const m = loadManifest(image.replace(/\.erofs$/, ".manifest.json"));
  const fs: ErofsFs = await mount(image);
  try {
    const out: FileFact[] = [];
    for (const e of m.entries) {
      if (e.type !== "file") continue;
      const path = nameBytes(e.path).toString("utf8");
      const inode: Inode = await fs.lookup(path);
      const fp = await fs.fingerprint(inode);
      out.push({ path, size: e.size, sha256: e.sha256!, fingerprint: fp ? Buffer.from(fp).toString("hex") : null });
    }
    return out;
  } finally {
    await fs.unmount();
  }
}

function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Reads every file through the mount and checks its bytes against the manifest. */
function readAll(mnt: string, files: readonly FileFact[]): void {
  const bad = files.filter((f) => sha256Of(join(mnt, f.path)) !== f.sha256).map((f) => f.path);
  expect(bad.slice(0, 5)).toEqual([]);
}

/**
 * Bytes of a file resident in the kernel's page cache (fincore), counted right after the
 * file is read (and its bytes checked) once more: the walk before may have read it long
 * ago, and anything that drops caches meanwhile (the kernel-differential harness, a bench,
 * reclaim; a CI run once found one page of 19 gone) would count pages that no longer tell
 * where the mount keeps them.
 */
function cachedAfterReading(mnt: string, file: FileFact): number {
  const path = join(mnt, file.path);
  expect(sha256Of(path)).toBe(file.sha256);
  return Number(execFileSync("fincore", ["--bytes", "--noheadings", "--output", "RES", path], { encoding: "utf8" }).trim());
}

/** Content bytes counted once per distinct fingerprint (and size), as perfect sharing stores them. */
function distinctSharedBytes(...sets: FileFact[][]): number {
  const seen = new Map<string, number>();
  for (const files of sets) for (const f of files) if (f.fingerprint) seen.set(`${f.fingerprint}/${f.size}`, f.size);
  let total = 0;
  for (const size of seen.values()) total += size;
  return total;
}

/**
 * inode_share through erofs-fuse, as the seed defines it: files with one fingerprint in one
 * domain are cached once, in the daemon (opened direct_io, so the kernel's page cache holds
 * no second copy); other files live in the kernel's page cache only.
 */
describe.skipIf(!FUSE_AVAILABLE || !corpus)("page cache sharing through erofs-fuse", () => {
  let daemon: FuseDaemon | null = null;
  afterEach(async () => {
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
    daemon = null;
  });

  it("one domain: identical files of app-a and app-b cost their pages once, in the daemon only", async () => {
    const [a, b] = [await facts(appA), await facts(appB)];
    daemon = await FuseDaemon.start([{ image: appA, options: "inode_share,domain_id=blue" }, { image: appB }], ["-o", "cache_size=1G"]);
    const [ma, mb] = daemon.mountpoints as [string, string];
    readAll(ma, a);
    const afterA: DaemonStats = await daemon.stats();
    readAll(mb, b);
    const s = await daemon.stats();

    // The cache holds each distinct shared content once (not app-a's plus app-b's), plus
    // at most the directory blocks and symlinks walked on the way.
    const meta = metadataBytes(appA) + metadataBytes(appB);
    expect(s.cache.bytes).toBeGreaterThanOrEqual(distinctSharedBytes(a, b));
    expect(s.cache.bytes).toBeLessThanOrEqual(distinctSharedBytes(a, b) + meta);
    expect(distinctSharedBytes(a, b) + meta).toBeLessThan(distinctSharedBytes(a) + distinctSharedBytes(b));
    // app-b's files that app-a already holds are served from app-a's pages, not refilled.
    const common = new Set(a.filter((f) => f.fingerprint).map((f) => `${f.fingerprint}/${f.size}`));
    const commonBytes = b.filter((f) => f.fingerprint && common.has(`${f.fingerprint}/${f.size}`)).reduce((n, f) => n + f.size, 0);
    expect(commonBytes).toBeGreaterThan(0);
    expect(s.cache.sharedBytesServed - afterA.cache.sharedBytesServed).toBeGreaterThanOrEqual(commonBytes);
    expect(s.mounts[1]!.sharedBytesRead).toBeGreaterThan(0);

    // Shared files bypass the kernel's page cache; a file without a fingerprint uses it.
    // Each is read again just before its pages are counted (see cachedAfterReading).
    const sharedFile = b.find((f) => f.fingerprint && f.size > 65536)!;
    expect(cachedAfterReading(mb, sharedFile)).toBe(0);
    const privateFile = b.find((f) => !f.fingerprint && f.size > 0);
    if (privateFile) expect(cachedAfterReading(mb, privateFile)).toBeGreaterThan(0);

    // As the seed: O_DIRECT on a shared file is refused.
    expect(() => openSync(join(mb, sharedFile.path), constants.O_RDONLY | constants.O_DIRECT)).toThrow(/EINVAL/);

    // Unmounting app-a leaves its shared pages to app-b, still correct, without refilling.
    execFileSync("umount", [ma]);
    const before = await daemon.stats();
    readAll(mb, b.filter((f) => f.fingerprint && common.has(`${f.fingerprint}/${f.size}`)));
    const after = await daemon.stats();
    expect(after.cache.fills).toBe(before.cache.fills);
    expect(after.cache.hits).toBeGreaterThan(before.cache.hits);
    expect(after.mounts[0]!.mounted).toBe(false);
  });

  it("two domains share nothing", async () => {
    const [a, b] = [await facts(appA), await facts(appB)];
    daemon = await FuseDaemon.start(
      [
        { image: appA, options: "inode_share,domain_id=blue" },
        { image: appB, options: "domain_id=green" },
      ],
      ["-o", "cache_size=1G"],
    );
    const [ma, mb] = daemon.mountpoints as [string, string];
    readAll(ma, a);
    readAll(mb, b);
    const s = await daemon.stats();
    expect(s.cache.sharedBytesServed).toBe(0);
    const separate = distinctSharedBytes(a) + distinctSharedBytes(b);
    expect(s.cache.bytes).toBeGreaterThanOrEqual(separate);
    expect(s.cache.bytes).toBeLessThanOrEqual(separate + metadataBytes(appA) + metadataBytes(appB));
  });

  it("without inode_share the daemon keeps no file pages: the kernel's page cache has them", async () => {
    const b = await facts(appB);
    daemon = await FuseDaemon.start([{ image: appB }], ["-o", "cache_size=1G"]);
    const mb = daemon.mountpoints[0]!;
    readAll(mb, b);
    const s = await daemon.stats();
    expect(s.mounts[0]!.sharedBytesRead).toBe(0);
    // Directory blocks and symlinks, plus at most a few pages decoded ahead of a READ
    // that a concurrent READ had already delivered: nothing like the 100+ MB of content.
    expect(s.cache.bytes).toBeLessThanOrEqual(metadataBytes(appB) + (1 << 20));
    const big = b.filter((f) => f.size > 65536)[0]!;
    expect(cachedAfterReading(mb, big)).toBe(big.size + ((4096 - (big.size % 4096)) % 4096));
    // O_DIRECT works on a file that is not shared.
    const fd = openSync(join(mb, big.path), constants.O_RDONLY | constants.O_DIRECT);
    const buf = Buffer.alloc(4096);
    expect(readSync(fd, buf, 0, 4096, 0)).toBe(Math.min(4096, big.size));
    closeSync(fd);
  });
});
