import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, repoRoot } from "@erofs-ts/testkit";
import { mount, type ErofsFs, type Inode } from "./index.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

async function files(fs: ErofsFs): Promise<Inode[]> {
  const out: Inode[] = [];
  const walk = async (dir: Inode): Promise<void> => {
    for (const e of await fs.readdir(dir)) {
      const inode = await fs.iget(e.nid);
      if (inode.kind === "dir") await walk(inode);
      else if (inode.kind === "file") out.push(inode);
    }
  };
  await walk(await fs.root());
  return out;
}

async function sha(fs: ErofsFs, inode: Inode, chunk: number, cache: boolean): Promise<string> {
  const h = createHash("sha256");
  for (let pos = 0; pos < inode.size; pos += chunk) h.update(await fs.read(inode, pos, chunk, { cache }));
  return h.digest("hex");
}

/**
 * `cache: false` (how erofs-fuse reads files the kernel caches): the same bytes as a cached
 * read, and once every page has been handed over nothing of the file stays in the cache,
 * whatever the chunking against the compressed extents.
 */
describe("reads that do not keep pages", () => {
  const images = [join(repoRoot(), "fixtures/demo.erofs"), ...(corpus ? ["lz4", "lzma-big", "plain", "chunk-indexes"].map((n) => join(corpus, `${n}.erofs`)) : [])];
  for (const image of images) {
    it(image.split("/").pop()!, async () => {
      const cached = await mount(image);
      const uncached = await mount(image);
      try {
        for (const f of await files(cached)) {
          const want = await sha(cached, f, 1 << 20, true);
          for (const chunk of [4096, 3 * 4096, 128 << 10]) {
            const g = await uncached.iget(f.nid);
            expect(await sha(uncached, g, chunk, false)).toBe(want);
            expect(uncached.cacheStats().data.bytes).toBe(0);
          }
        }
      } finally {
        await cached.unmount();
        await uncached.unmount();
      }
    });
  }
});
