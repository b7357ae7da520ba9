import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, loadManifest, nameBytes, ScratchDir } from "@erofs-ts/testkit";
import { crc32c } from "@erofs-ts/format";
import { PAGE_BOOKKEEPING_BYTES } from "@erofs-ts/ishare-cache";
import { ErofsError, PageCache, mount, type ErofsFs, type Inode } from "./index.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const tmp = new ScratchDir("ishare-");
afterAll(tmp.remove);

const BIG = 512 << 20;

/** Regular files of a real image with their manifest sha256. */
function files(name: string) {
  const m = loadManifest(join(corpus!, "real", `${name}.manifest.json`));
  return m.entries.filter((e) => e.type === "file").map((e) => ({ path: nameBytes(e.path), sha256: e.sha256!, size: e.size }));
}

async function readAll(fs: ErofsFs, path: Uint8Array): Promise<string> {
  return readInode(fs, await fs.lookup(path));
}

async function readInode(fs: ErofsFs, inode: Inode): Promise<string> {
  const h = createHash("sha256");
  for await (const c of fs.readChunks(inode)) h.update(c);
  return h.digest("hex");
}

describe.skipIf(!corpus)("page cache sharing across images (app-a, app-b)", () => {
  const image = (n: string) => join(corpus!, "real", `${n}.erofs`);

  it("serves identical files of the second image from pages the first filled", async () => {
    const cache = new PageCache({ budgetBytes: BIG });
    const a = await mount(image("app-a"), { cache, inodeShare: true, domainId: "team" });
    const b = await mount(image("app-b"), { cache, inodeShare: true, domainId: "team" });
    expect(a.sharingEnabled && b.sharingEnabled).toBe(true);
    const aFiles = files("app-a");
    const seen = new Set(aFiles.map((f) => `${f.sha256}:${f.size}`));
    for (const f of aFiles) expect(await readAll(a, f.path)).toBe(f.sha256);
    let sharedFiles = 0;
    for (const f of files("app-b")) {
      const inode = await b.lookup(f.path); // directory pages may fill here, not below
      const before = cache.stats();
      expect(await readInode(b, inode)).toBe(f.sha256);
      const after = cache.stats();
      if (f.size > 0 && seen.has(`${f.sha256}:${f.size}`)) {
        // Content already read through app-a: no page filled, everything served shared.
        expect(after.fills - before.fills, JSON.stringify(f.path.toString())).toBe(0);
        expect(after.sharedBytesServed - before.sharedBytesServed).toBeGreaterThanOrEqual(f.size);
        sharedFiles++;
      }
    }
    expect(sharedFiles).toBeGreaterThan(100);
    await a.unmount();
    await b.unmount();
    expect(cache.stats().pages).toBe(0);
  });

  it("goes on sharing after both mounts let go of their parsed inodes", async () => {
    const cache = new PageCache({ budgetBytes: BIG });
    const a = await mount(image("app-a"), { cache, inodeShare: true, domainId: "team" });
    const b = await mount(image("app-b"), { cache, inodeShare: true, domainId: "team" });
    try {
      const aFiles = files("app-a");
      const inA = new Set(aFiles.map((f) => `${f.sha256}:${f.size}`));
      for (const f of aFiles) expect(await readAll(a, f.path)).toBe(f.sha256);
      const common = files("app-b").filter((f) => f.size > 0 && inA.has(`${f.sha256}:${f.size}`));
      expect(common.length).toBeGreaterThan(100);
      a.releaseBuffers({ inodes: true });
      b.releaseBuffers({ inodes: true });
      expect(a.cacheStats().inodes + b.cacheStats().inodes).toBe(0);
      for (const f of common) {
        const inode = await b.lookup(f.path);
        expect(b.isShared(inode)).toBe(true);
        const before = cache.stats();
        expect(await readInode(b, inode)).toBe(f.sha256);
        expect(cache.stats().fills - before.fills).toBe(0);
      }
    } finally {
      await a.unmount();
      await b.unmount();
    }
  });

  it("shares nothing across different domains or without inode_share", async () => {
    for (const [optsA, optsB] of [
      [{ inodeShare: true, domainId: "one" }, { inodeShare: true, domainId: "two" }],
      [{ inodeShare: true }, { inodeShare: false }],
      [{}, {}],
    ] as const) {
      const cache = new PageCache({ budgetBytes: BIG });
      const a = await mount(image("app-a"), { cache, ...optsA });
      const b = await mount(image("app-b"), { cache, ...optsB });
      for (const f of files("app-a")) await readAll(a, f.path);
      for (const f of files("app-b")) await readAll(b, f.path);
      expect(cache.stats().sharedBytesServed).toBe(0);
      await a.unmount();
      await b.unmount();
    }
  });

  it("keeps the second image's cached shared pages after the first unmounts", async () => {
    const cache = new PageCache({ budgetBytes: BIG });
    const a = await mount(image("app-a"), { cache, inodeShare: true });
    const b = await mount(image("app-b"), { cache, inodeShare: true });
    const bFiles = files("app-b");
    for (const f of files("app-a")) await readAll(a, f.path);
    for (const f of bFiles) await readAll(b, f.path);
    const shared = cache.stats().sharedBytesServed;
    expect(shared).toBeGreaterThan(1 << 20);
    await a.unmount();
    // Every page app-b uses is still cached, including those app-a filled.
    const inodes = await Promise.all(bFiles.map((f) => b.lookup(f.path)));
    const fillsBefore = cache.stats().fills;
    for (let i = 0; i < bFiles.length; i++) expect(await readInode(b, inodes[i]!)).toBe(bFiles[i]!.sha256);
    expect(cache.stats().fills).toBe(fillsBefore);
    expect(cache.stats().sharedBytesServed).toBeGreaterThan(shared);
    await b.unmount();
  });

  it("never exceeds the cache budget", async () => {
    const budget = 2 << 20;
    const cache = new PageCache({ budgetBytes: budget });
    const a = await mount(image("app-a"), { cache, inodeShare: true });
    const b = await mount(image("app-b"), { cache, inodeShare: true });
    let peak = 0;
    for (const [fs, list] of [[a, files("app-a")], [b, files("app-b")]] as const) {
      for (const f of list.slice(0, 400)) {
        expect(await readAll(fs, f.path)).toBe(f.sha256);
        const st = cache.stats();
        // Pages' bytes and their bookkeeping both count against the budget.
        peak = Math.max(peak, st.bytes + st.pages * PAGE_BOOKKEEPING_BYTES);
      }
    }
    expect(peak).toBeLessThanOrEqual(budget);
    await a.unmount();
    await b.unmount();
  });

  it("reports a notice and shares nothing for an image without fingerprints", async () => {
    const fs = await mount(image("app-a-lz4"), { inodeShare: true });
    expect(fs.notices.join()).toMatch(/inode_share/);
    expect(fs.sharingEnabled).toBe(false);
    expect(fs.isShared(await fs.lookup(files("app-a")[0]!.path))).toBe(false);
    await fs.unmount();
  });

  it("fails the mount when the ishare prefix id is out of range", async () => {
    const copy = join(tmp.path, "bad-prefix.erofs");
    copyFileSync(image("app-a"), copy);
    const img = readFileSync(copy);
    img[1024 + 105] = img[1024 + 91]!; // prefix id == prefix count
    // Keep the superblock checksum valid so the prefix id is what fails.
    const len = (1 << img[1024 + 12]!) - 1024;
    const sbBytes = Uint8Array.from(img.subarray(1024, 1024 + len));
    sbBytes.fill(0, 4, 8);
    img.writeUInt32LE(crc32c(0xffffffff, sbBytes), 1024 + 4);
    writeFileSync(copy, img);
    const e = await mount(copy, { inodeShare: true }).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EFSCORRUPTED");
  });

  it("never puts the domain_id into errors, notices or stats", async () => {
    const secret = "s3cr3t-domain-0123";
    const cache = new PageCache({ budgetBytes: BIG });
    const fs = await mount(image("app-a"), { cache, inodeShare: true, domainId: secret });
    const e = await fs.lookup("no/such").catch((x: unknown) => x);
    expect(String(e) + fs.notices.join() + JSON.stringify(cache.stats())).not.toContain(secret);
    await fs.unmount();
  });
});
