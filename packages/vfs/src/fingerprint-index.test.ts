import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { ErofsError, FingerprintIndex, PageCache, buildFingerprintIndex, mount, type ErofsFs, type Inode } from "./index.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const tmp = new ScratchDir("fp-index-");
afterAll(tmp.remove);

async function regularFiles(fs: ErofsFs): Promise<Array<{ path: string; inode: Inode }>> {
  const out: Array<{ path: string; inode: Inode }> = [];
  const walk = async (dir: Inode, prefix: string): Promise<void> => {
    for (const e of await fs.readdir(dir)) {
      const inode = await fs.iget(e.nid);
      const path = prefix + Buffer.from(e.name).toString("latin1");
      if (inode.kind === "dir") await walk(inode, path + "/");
      else if (inode.kind === "file") out.push({ path, inode });
    }
  };
  await walk(await fs.root(), "");
  return out;
}

describe("fingerprint index format", () => {
  it("refuses text that is not an index, and an index for another image", async () => {
    expect(() => FingerprintIndex.parse("hello\n")).toThrow(ErofsError);
    expect(() => FingerprintIndex.parse("# erofs-ts fingerprints v1\nimage x\n12 3 sha256:zz\n")).toThrow(/line 3/);
    const demo = join(repoRoot(), "fixtures/demo.erofs");
    const fs = await mount(demo);
    const text = await buildFingerprintIndex(fs);
    await fs.unmount();
    const file = join(tmp.path, "demo.fp");
    writeFileSync(file, text);
    const other = join(repoRoot(), "fixtures/xattrs.erofs");
    const err = await mount(other, { fingerprints: file, inodeShare: true }).catch((e: unknown) => e);
    expect(ErofsError.isInstance(err) && err.code).toBe("EINVAL");
    expect(String(err)).toMatch(/another image/);
    // Its own image takes it, and then shares (without the on-disk feature).
    const ok = await mount(demo, `fingerprints=${file},inode_share`);
    const hello = await ok.lookup("hello.txt");
    expect(ok.isShared(hello)).toBe(true);
    expect(ok.notices).toEqual([]);
    await ok.unmount();
  });
});

describe.skipIf(!corpus)("fingerprints computed for an image without them", () => {
  const image = (n: string) => join(corpus!, "real", `${n}.erofs`);

  it("equal what mkfs.erofs --xattr-inode-digest stored for the same tree", async () => {
    const plain = await mount(image("app-a-plain"));
    const withXattrs = await mount(image("app-a"));
    const index = FingerprintIndex.parse(await buildFingerprintIndex(plain));
    let compared = 0;
    for (const { path, inode } of await regularFiles(plain)) {
      const other = await withXattrs.lookup(Buffer.from(path, "latin1"));
      const stored = await withXattrs.fingerprint(other);
      const computed = index.fingerprintOf(inode);
      expect(computed && Buffer.from(computed).toString("hex"), path).toBe(stored && Buffer.from(stored).toString("hex"));
      compared++;
    }
    expect(compared).toBeGreaterThan(2000);
    await plain.unmount();
    await withXattrs.unmount();
  });

  it("let an image without fingerprints share pages with one that has them", async () => {
    const fsA = await mount(image("app-a-plain"));
    const file = join(tmp.path, "app-a-plain.fp");
    writeFileSync(file, await buildFingerprintIndex(fsA));
    await fsA.unmount();
    const cache = new PageCache({ budgetBytes: 1 << 30 });
    const a = await mount(image("app-a-plain"), { cache, inodeShare: true, domainId: "d", fingerprints: file });
    const b = await mount(image("app-b"), { cache, inodeShare: true, domainId: "d" });
    const read = async (fs: ErofsFs) => {
      for (const { inode } of await regularFiles(fs)) for await (const _ of fs.readChunks(inode));
    };
    await read(a);
    const afterA = cache.stats();
    await read(b);
    const afterB = cache.stats();
    // app-b holds ~46 MB that app-a has (corpus README): served, not filled again.
    expect(afterB.sharedBytesServed - afterA.sharedBytesServed).toBeGreaterThan(40e6);
    await a.unmount();
    await b.unmount();
  });
});
