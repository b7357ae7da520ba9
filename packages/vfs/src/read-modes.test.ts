import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, ensureCorpus, loadManifest, nameBytes, repoRoot } from "@erofs-ts/testkit";
import { COMPRESSION, mount, type ErofsFs, type Inode, type Superblock } from "./index.js";
import { PageCache, recycledSlabBytes, releaseRecycledSlabs } from "@erofs-ts/ishare-cache";
import { eachEntry } from "./walk.test-helper.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

async function files(fs: ErofsFs): Promise<Inode[]> {
  const out: Inode[] = [];
  await eachEntry(fs, (_path, inode) => {
    if (inode.kind === "file") out.push(inode);
  });
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

/** sha256 of a file read with readChunks into `into` (cache off), checking every chunk is a view of it. */
async function chunksSha(fs: ErofsFs, inode: Inode, into: Uint8Array): Promise<string> {
  const h = createHash("sha256");
  let n = 0;
  for await (const c of fs.readChunks(inode, { cache: false, into, chunkSize: 1 << 20 })) {
    expect(c.buffer).toBe(into.buffer);
    expect(c.length).toBeLessThanOrEqual(into.length);
    h.update(c);
    n += c.length;
  }
  expect(n).toBe(inode.size);
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
          // Streamed once into one buffer (erofs-cli fsck and extract), in chunks that end
          // inside pages: each chunk a view of it, the same bytes, no page left behind.
          expect(await chunksSha(uncached, await uncached.iget(f.nid), new Uint8Array(20_000))).toBe(want);
          expect(uncached.cacheStats().data.bytes).toBe(0);
          // Nor any bookkeeping: a daemon serving millions of files would keep it for each.
          expect(uncached.cacheStats().data.owners).toBe(0);
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

/** Regular files by path (as the bytes of their names, `/`-joined, without a leading `/`). */
async function filesByPath(fs: ErofsFs): Promise<Map<string, Inode>> {
  const out = new Map<string, Inode>();
  await eachEntry(fs, (path, inode) => {
    if (inode.kind === "file") out.set(path, inode);
  });
  return out;
}

/**
 * A fill ending inside an extent (the page it shares with the extent before): LZ4 and
 * LZMA decode just the prefix the fill needs and keep nothing, zstd and deflate (whose
 * decoders produce whole pclusters) decode it whole and keep it for the next fill. LZMA
 * extents of the packed inode are the exception: the kernel reads that inode a page at a
 * time and decodes such an extent whole for any page of it, and so does the vfs. Either
 * way every file of app-a reads, in chunks that end in the middle of extents, as the
 * kernel reads it (not as app-a-plain: two files of app-a-zstd differ from it, in the
 * kernel's reading too). A kept extent goes once a fill has taken its last bytes.
 */
describe.skipIf(!corpus)("extents that straddle a fill's end", () => {
  // The most extents left kept after reading every file: the packed inode's, whose
  // fragments are read out of order (measured: zstd and deflate at most 4, lzma 5).
  const variants: Array<[string, number]> = [
    ["lz4", 0],
    ["lzma", 8],
    ["zstd", 4],
    ["deflate", 4],
  ];
  for (const [codec, keptAtMost] of variants) {
    const keepsWhole = keptAtMost > 0;
    it(`app-a-${codec}: ${keepsWhole ? "kept whole for the next fill" : "only the prefix is decoded, nothing kept"}`, async (t) => {
      const image = join(corpus!, `real/app-a-${codec}.erofs`);
      const kernel = KernelMount.tryMount(image);
      if (!kernel) return t.skip("needs root to mount the image with the kernel's erofs");
      const fs = await mount(image);
      try {
        let largest = 0;
        for (const [path, inode] of await filesByPath(fs)) {
          largest = Math.max(largest, inode.size);
          expect(await sha(fs, inode, 96 << 10, true), path).toBe(kernel.sha256(Buffer.from(path, "latin1")));
        }
        expect(largest).toBeGreaterThan(1 << 20);
        const kept = fs.cacheStats().decodedExtents;
        if (keepsWhole) {
          // Each file's extents went as the reads passed their ends; what stays are the
          // packed inode's. Kept until the budget pushed them out, they were 137 (zstd)
          // and 160 (deflate): all 32 MiB of it.
          expect(kept.extents).toBeGreaterThan(0);
          expect(kept.extents).toBeLessThanOrEqual(keptAtMost);
        } else {
          expect(kept).toMatchObject({ extents: 0, bytes: 0 });
        }
      } finally {
        await fs.unmount();
        kernel.unmount();
      }
    }, 120_000);
  }
});

/**
 * readChunks without keeping pages (erofs-cli cat, fsck, extract) ends each chunk at the
 * page where the extent holding its last byte starts, so a chunk is whole extents: they
 * are decoded into the caller's buffer, and only the page the last of them shares with
 * the next extent is kept for the next chunk. A chunk cut at the buffer's length instead
 * ends inside an extent, and the rest of that extent (up to ~120 KB in app-a-lz4) was
 * decoded and kept as pages: 2,820 page fills for app-a-lz4's six files over 1 MiB,
 * against 491 (256 KiB chunks). The buffer here is longer than any extent of these
 * images (the longest, app-a-zstd's, are ~330 KB): a chunk inside one extent keeps the
 * rest of it, whatever its end.
 */
describe.skipIf(!corpus)("readChunks in whole extents", () => {
  for (const codec of ["lz4", "zstd", "deflate"]) {
    it(`app-a-${codec}: every file over 1 MiB as the kernel reads it, keeping at most one page a chunk`, async (t) => {
      const image = join(corpus!, `real/app-a-${codec}.erofs`);
      const kernel = KernelMount.tryMount(image);
      if (!kernel) return t.skip("needs root to mount the image with the kernel's erofs");
      const fs = await mount(image);
      try {
        let checked = 0;
        for (const [path, inode] of await filesByPath(fs)) {
          if (inode.size <= 1 << 20) continue;
          const before = fs.cacheStats().data;
          const into = new Uint8Array(1 << 20);
          const h = createHash("sha256");
          let chunks = 0;
          for await (const c of fs.readChunks(inode, { cache: false, into, chunkSize: into.length })) {
            h.update(c);
            chunks++;
          }
          expect(h.digest("hex"), path).toBe(kernel.sha256(Buffer.from(path, "latin1")));
          const after = fs.cacheStats().data;
          expect(after.fills - before.fills, path).toBeLessThanOrEqual(chunks);
          expect(after.bytes, path).toBe(before.bytes);
          checked++;
        }
        expect(checked).toBeGreaterThanOrEqual(5);
      } finally {
        await fs.unmount();
        kernel.unmount();
      }
    }, 120_000);
  }
});

/**
 * In images without fragments every extent is its own file's: an extent kept for the
 * next fill goes once that fill has taken its last bytes, so a file read through leaves
 * none of its extents behind, and its bytes are the manifest's.
 */
describe.skipIf(!corpus)("decoded extents kept between reads", () => {
  for (const name of ["deflate", "libdeflate"]) {
    it(`${name}.erofs: kept between reads of a file, none once it is read through`, async () => {
      const manifest = loadManifest(join(corpus!, `${name}.manifest.json`));
      const fs = await mount(join(corpus!, `${name}.erofs`));
      try {
        const kept = () => fs.cacheStats().decodedExtents.extents;
        const step = 96 << 10;
        let keptBetween = 0;
        const byPath = await filesByPath(fs);
        for (const want of manifest.entries) {
          if (want.type !== "file") continue;
          const inode = byPath.get(nameBytes(want.path).toString("latin1"))!;
          const h = createHash("sha256");
          for (let pos = 0; pos < inode.size; pos += step) {
            h.update(await fs.read(inode, pos, step));
            if (pos + step < inode.size) keptBetween = Math.max(keptBetween, kept());
          }
          expect(h.digest("hex"), String(want.path)).toBe(want.sha256);
          expect(kept(), String(want.path)).toBe(0);
        }
        expect(keptBetween).toBeGreaterThan(0);
      } finally {
        await fs.unmount();
      }
    });
  }
});

/**
 * Behind FUSE the kernel's readahead keeps several reads of one file in flight, and
 * fills widened to whole extents overlap: each read still gets exactly its bytes, and
 * none waits forever on another's decode.
 */
describe.skipIf(!corpus)("overlapping reads of one file in flight at once", () => {
  for (const codec of ["lz4", "lzma", "zstd", "deflate"]) {
    it(`app-a-${codec}: three 128 KiB reads at a time, as the kernel's readahead`, async (t) => {
      const image = join(corpus!, `real/app-a-${codec}.erofs`);
      const kernel = KernelMount.tryMount(image);
      if (!kernel) return t.skip("needs root to mount the image with the kernel's erofs");
      const fs = await mount(image);
      const chunk = 128 << 10;
      try {
        for (const [path, inode] of await filesByPath(fs)) {
          if (inode.size <= chunk) continue;
          const h = createHash("sha256");
          for (let pos = 0; pos < inode.size; pos += 3 * chunk) {
            const offsets = [pos, pos + chunk, pos + 2 * chunk].filter((o) => o < inode.size);
            for (const part of await Promise.all(offsets.map((o) => fs.read(inode, o, chunk, { cache: false })))) h.update(part);
          }
          expect(h.digest("hex"), path).toBe(kernel.sha256(Buffer.from(path, "latin1")));
        }
      } finally {
        await fs.unmount();
        kernel.unmount();
      }
    }, 120_000);
  }
});

/**
 * Reads that jump about, within a file and between files, each get their own extents:
 * the mount remembers the last extents it mapped (an extent found again is reused), and
 * a remembered extent of another file, or of another part of this one, must never serve.
 */
describe.skipIf(!corpus)("reads in no order across files", () => {
  for (const codec of ["lz4", "zstd"]) {
    it(`app-a-${codec}: 4 KiB pieces of six files, shuffled together, match the kernel's bytes`, async (t) => {
      const image = join(corpus!, `real/app-a-${codec}.erofs`);
      const kernel = KernelMount.tryMount(image);
      if (!kernel) return t.skip("needs root to mount the image with the kernel's erofs");
      const fs = await mount(image);
      const piece = 4096;
      try {
        const chosen = [...(await filesByPath(fs))].filter(([, f]) => f.size > 64 << 10).slice(0, 6);
        expect(chosen.length).toBe(6);
        const pieces: Array<{ file: number; pos: number }> = [];
        chosen.forEach(([, f], file) => {
          for (let pos = 0; pos < f.size; pos += piece) pieces.push({ file, pos });
        });
        // A fixed shuffle (xorshift), so a failure repeats.
        let seed = 0x9e3779b9;
        const next = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
        for (let i = pieces.length - 1; i > 0; i--) {
          const j = Math.floor(next() * (i + 1));
          [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
        }
        const got = chosen.map(([, f]) => new Uint8Array(f.size));
        for (const { file, pos } of pieces) got[file]!.set(await fs.read(chosen[file]![1], pos, piece, { cache: false }), pos);
        chosen.forEach(([path], file) => {
          expect(createHash("sha256").update(got[file]!).digest("hex"), path).toBe(kernel.sha256(Buffer.from(path, "latin1")));
        });
      } finally {
        await fs.unmount();
        kernel.unmount();
      }
    }, 120_000);
  }
});

describe.skipIf(!corpus)("releaseBuffers", () => {
  it("drops the decoded extents kept for a next fill; reads after it get the same bytes", async () => {
    const fs = await mount(join(corpus!, "real/app-a-zstd.erofs"));
    try {
      const large = [...(await filesByPath(fs)).values()].filter((f) => f.size > 1 << 20);
      expect(large.length).toBeGreaterThan(0);
      const first = await Promise.all(large.map((f) => sha(fs, f, 96 << 10, true)));
      expect(fs.cacheStats().decodedExtents.bytes).toBeGreaterThan(0);
      const dataBefore = fs.cacheStats().data.bytes;
      fs.releaseBuffers();
      expect(fs.cacheStats().decodedExtents).toMatchObject({ extents: 0, bytes: 0 });
      // The page cache is not a buffer: it stays.
      expect(fs.cacheStats().data.bytes).toBe(dataBefore);
      // Reading on works: its windows and kept extents start cold.
      for (let i = 0; i < large.length; i++) expect(await sha(fs, large[i]!, 96 << 10, false)).toBe(first[i]);
    } finally {
      await fs.unmount();
    }
  });
});

describe.skipIf(!corpus)("releaseBuffers({ fragments: true })", () => {
  it("empties the decoded fragments and nothing else; fragments read after it get the same bytes", async () => {
    const fs = await mount(join(corpus!, "real/app-a-lzma.erofs"));
    try {
      // Small files live whole in the packed inode (mkfs -Efragments).
      const small = [...(await filesByPath(fs)).values()].filter((f) => f.size > 0 && f.size < 16 << 10).slice(0, 40);
      expect(small.length).toBe(40);
      const first = await Promise.all(small.map((f) => sha(fs, f, 4096, false)));
      const packedBefore = fs.cacheStats().packed;
      expect(packedBefore.pages).toBeGreaterThan(0);
      const dataBefore = fs.cacheStats().data;
      fs.releaseBuffers({ fragments: true });
      expect(fs.cacheStats().packed).toMatchObject({ pages: 0, bytes: 0, slabBytes: 0 });
      // Their emptied slabs are let go too, not kept for reuse.
      expect(recycledSlabBytes()).toBe(0);
      expect(fs.cacheStats().data).toEqual(dataBefore);
      for (let i = 0; i < small.length; i++) expect(await sha(fs, small[i]!, 4096, false)).toBe(first[i]);
      // Decoded again, not found elsewhere.
      expect(fs.cacheStats().packed.fills).toBeGreaterThan(packedBefore.fills);
      // Without the option they stay.
      const kept = fs.cacheStats().packed.pages;
      fs.releaseBuffers();
      expect(fs.cacheStats().packed.pages).toBe(kept);
      fs.releaseBuffers({ fragments: true });
      fs.releaseBuffers({ fragments: true });
      expect(fs.cacheStats().packed.pages).toBe(0);
    } finally {
      await fs.unmount();
    }
  });
});

describe.skipIf(!corpus)("releaseBuffers({ mapHeaders: true }) and ({ inodes: true })", () => {
  it("lets go of the map headers, or the parsed inodes and map headers, and only with the options; files read the same after", async () => {
    const fs = await mount(join(corpus!, "real/app-a.erofs"));
    try {
      const byPath = [...(await filesByPath(fs))].slice(0, 300);
      const first = await Promise.all(byPath.map(([, f]) => sha(fs, f, 64 << 10, false)));
      const before = fs.cacheStats();
      expect(before.inodes).toBeGreaterThan(300);
      expect(before.mapHeaders).toBeGreaterThan(200);
      fs.releaseBuffers({ fragments: true });
      expect(fs.cacheStats()).toMatchObject({ inodes: before.inodes, mapHeaders: before.mapHeaders });
      fs.releaseBuffers({ mapHeaders: true });
      expect(fs.cacheStats()).toMatchObject({ inodes: before.inodes, mapHeaders: 0 });
      // The page cache is not parsed state: it stays.
      expect(fs.cacheStats().data).toEqual(before.data);
      for (let i = 0; i < byPath.length; i++) expect(await sha(fs, byPath[i]![1], 64 << 10, false)).toBe(first[i]);
      expect(fs.cacheStats().mapHeaders).toBeGreaterThan(200);
      fs.releaseBuffers({ inodes: true });
      expect(fs.cacheStats()).toMatchObject({ inodes: 0, mapHeaders: 0 });
      expect(fs.cacheStats().data.pages).toBe(before.data.pages);
      // Inode objects handed out before still read, their map headers parsed again.
      for (let i = 0; i < byPath.length; i++) expect(await sha(fs, byPath[i]![1], 64 << 10, false)).toBe(first[i]);
      expect(fs.cacheStats().mapHeaders).toBeGreaterThan(200);
      // And the same files looked up again are parsed again, to the same inodes.
      fs.releaseBuffers({ inodes: true });
      for (const [path, f] of byPath) {
        const again = await fs.lookup(Buffer.from(path, "latin1"));
        expect(again).not.toBe(f);
        expect(again).toEqual(f);
      }
      expect(fs.cacheStats().inodes).toBeGreaterThan(300);
    } finally {
      await fs.unmount();
    }
  });
});

describe.skipIf(!corpus)("unmount", () => {
  it("leaves its memory for the next mount: all its slabs to the recycler, its buffers to the process's pool", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const first = await mount(image, { cacheBytes: 256 << 20 });
    const all = [...(await filesByPath(first)).values()];
    for (const f of all) await sha(first, f, 1 << 20, true);
    // Half of the largest file: the extent its last read ends in stays kept.
    const largest = all.reduce((a, b) => (b.size > a.size ? b : a));
    for (let pos = 0; pos < largest.size / 2; pos += 96 << 10) await first.read(largest, pos, 96 << 10, { cache: false });
    const { data, packed, decodedExtents, scratchBytes } = first.cacheStats();
    expect(packed.slabBytes).toBeGreaterThan(0);
    expect(decodedExtents.bytes).toBeGreaterThan(0);
    releaseRecycledSlabs();
    await first.unmount();
    // The file pages' slabs and the fragments' (86 MB here, more than the 64 MiB once kept).
    expect(recycledSlabBytes()).toBe(data.slabBytes + packed.slabBytes);
    const second = await mount(image);
    try {
      expect(second.cacheStats().scratchBytes).toBeGreaterThan(scratchBytes);
      expect(await sha(second, largest, 1 << 20, false)).toBe(await sha(second, largest, 96 << 10, true));
    } finally {
      await second.unmount();
    }
  });
});

describe("unmount with a page cache shared with other mounts", () => {
  it("takes its own pages out of the cache and leaves the other mount's", async () => {
    const image = join(repoRoot(), "fixtures/demo.erofs");
    const cache = new PageCache({ budgetBytes: 64 << 20 });
    const staying = await mount(image, { cache });
    const leaving = await mount(image, { cache });
    try {
      for (const f of await files(staying)) await sha(staying, f, 1 << 20, true);
      const before = cache.stats();
      expect(before.pages).toBeGreaterThan(0);
      for (const f of await files(leaving)) await sha(leaving, f, 1 << 20, true);
      expect(cache.stats()).toMatchObject({ pages: 2 * before.pages, owners: 2 * before.owners });
      await leaving.unmount();
      expect(cache.stats()).toMatchObject({ pages: before.pages, owners: before.owners });
      // The pages left are the staying mount's: read again, nothing is filled.
      const { fills, misses } = cache.stats();
      for (const f of await files(staying)) await sha(staying, f, 1 << 20, true);
      expect(cache.stats()).toMatchObject({ fills, misses, pages: before.pages });
    } finally {
      await leaving.unmount();
      await staying.unmount();
    }
  });
});

describe.skipIf(!corpus)("packedCacheBytes as a function", () => {
  it("is asked once, with the image's superblock, for the fragments' budget", async () => {
    const asked: Superblock[] = [];
    const fs = await mount(join(corpus!, "real/app-a-lzma.erofs"), {
      packedCacheBytes: (sb) => {
        asked.push(sb);
        return 3 << 20;
      },
    });
    try {
      expect(asked).toEqual([fs.superblock]);
      expect(asked[0]!.compression.availableAlgorithms & (1 << COMPRESSION.LZMA)).not.toBe(0);
      expect(fs.cacheStats().packed.budgetBytes).toBe(3 << 20);
    } finally {
      await fs.unmount();
    }
  });
});

describe("createReadStream", () => {
  it("createReadStream never streams views of a shared buffer (its consumers may keep chunks)", async () => {
    const fs = await mount(join(repoRoot(), "fixtures/demo.erofs"));
    try {
      const f = (await files(fs)).find((x) => x.size > 0)!;
      const into = new Uint8Array(4096);
      const chunks: Uint8Array[] = [];
      for await (const c of fs.createReadStream(f, { into })) chunks.push(c as Uint8Array);
      expect(chunks.length).toBeGreaterThan(0);
      for (const c of chunks) expect(c.buffer).not.toBe(into.buffer);
    } finally {
      await fs.unmount();
    }
  });
});
