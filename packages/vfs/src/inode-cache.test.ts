import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureCorpus, repoRoot } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";

const corpus = ensureCorpus();

/** Every entry's path, stat, symlink target and content hash, in walk order. */
async function describeTree(fs: ErofsFs, watch: () => void): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: Inode, path: string): Promise<void> => {
    for (const e of await fs.readdir(dir)) {
      const inode = await fs.iget(e.nid);
      watch();
      const p = `${path}/${Buffer.from(e.name).toString("latin1")}`;
      let detail = "";
      if (inode.kind === "file") detail = createHash("sha256").update(await fs.read(inode, 0, inode.size)).digest("hex");
      else if (inode.kind === "symlink") detail = Buffer.from(await fs.readlink(inode)).toString("latin1");
      out.push(`${p} ${JSON.stringify(fs.stat(inode), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))} ${detail}`);
      watch();
      if (inode.kind === "dir") await visit(inode, p);
    }
  };
  await visit(await fs.root(), "");
  return out;
}

describe("inodeCacheEntries", () => {
  const images = [join(repoRoot(), "fixtures/demo.erofs"), ...(corpus ? ["lz4-fragments-dedupe", "chunk-indexes"].map((n) => join(corpus, `${n}.erofs`)) : [])];
  for (const image of images) {
    it(`${image.split("/").pop()}: a cache of 3 inodes never holds more, and the tree reads the same`, async () => {
      const roomy = await mount(image);
      const small = await mount(image, { inodeCacheEntries: 3 });
      try {
        const want = await describeTree(roomy, () => {});
        let most = 0;
        const got = await describeTree(small, () => (most = Math.max(most, small.cacheStats().inodes)));
        expect(got).toEqual(want);
        expect(most).toBeLessThanOrEqual(3);
        // The default cache kept every inode of these small trees.
        expect(roomy.cacheStats().inodes).toBeGreaterThan(3);
      } finally {
        await roomy.unmount();
        await small.unmount();
      }
    });
  }

  it("a count that is not a positive integer is refused with EINVAL", async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      const e = await mount(join(repoRoot(), "fixtures/demo.erofs"), { inodeCacheEntries: bad }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(ErofsError.isInstance(e) && e.code).toBe("EINVAL");
    }
  });
});
