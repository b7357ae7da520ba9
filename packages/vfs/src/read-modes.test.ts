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

async function sha(fs: ErofsFs, inode: Inode, chunk: number, cache: boolean, into?: Uint8Array): Promise<string> {
  const h = createHash("sha256");
  for (let pos = 0; pos < inode.size; pos += chunk) {
    // A reused buffer holds the last read's bytes and more: poison it so a byte the read
    // failed to write shows.
    into?.fill(0xa5);
    const data = await fs.read(inode, pos, chunk, { cache, ...(into ? { into } : {}) });
    if (into && data.length > 0) expect(data.buffer).toBe(into.buffer);
    h.update(data);
  }
  return h.digest("hex");
}

/**
 * `cache: false` (how erofs-fuse reads files the kernel caches): the same bytes as a cached
 * read, and once every page has been handed over nothing of the file stays in the cache,
 * whatever the chunking against the compressed extents.
 */
describe("reads that do not keep pages", () => {
  const images = [
    join(repoRoot(), "fixtures/demo.erofs"),
    ...(corpus
      ? ["lz4", "lzma-big", "plain", "chunk-indexes", "chunk-blockmap", "lz4-fragments-dedupe", "lz4hc-bigpcluster", "zstd", "deflate"].map((n) => join(corpus, `${n}.erofs`))
      : []),
  ];
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
            // Into a reused, dirty buffer (erofs-fuse's reply buffers): the same bytes.
            expect(await sha(uncached, g, chunk, false, new Uint8Array(chunk + 4096))).toBe(want);
            expect(uncached.cacheStats().data.bytes).toBe(0);
          }
        }
      } finally {
        await cached.unmount();
        await uncached.unmount();
      }
    });
  }

  it("a buffer too short for the bytes to be read is refused (EINVAL), not overrun", async () => {
    const fs = await mount(join(repoRoot(), "fixtures/demo.erofs"));
    try {
      const f = (await files(fs)).find((x) => x.size > 1)!;
      const short = new Uint8Array(f.size - 1);
      const err = await fs.read(f, 0, f.size, { cache: false, into: short }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "EINVAL" });
      // Asking for no more than it holds is fine.
      expect((await fs.read(f, 0, short.length, { into: short })).length).toBe(short.length);
    } finally {
      await fs.unmount();
    }
  });
});
