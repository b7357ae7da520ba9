import { lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DATALAYOUT } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, hasCommand, kernelDirListing, KernelMount, repoRoot, resealSuperblock, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { kernelRead, linesImage, withSize } from "./file-answers.test-helper.js";
import { ErofsError, mount, type ErofsFs } from "./index.js";

/**
 * Regression tests for what the fuzzer (tooling/fuzz) found: images patched in one field,
 * each read through the vfs, which must answer with a typed error, quickly, and without an
 * allocation sized by the corrupt value.
 */
const work = new ScratchDir("vfs-hostile-");
afterAll(work.remove);
const hasMkfs = hasCommand("mkfs.erofs");
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string; ms: number; value?: Uint8Array }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { code: "ok", message: "", ms: performance.now() - t0, value: value instanceof Uint8Array ? value : undefined };
  } catch (e) {
    const ms = performance.now() - t0;
    if (ErofsError.isInstance(e)) return { code: e.code, message: e.message, ms };
    throw e; // an untyped error fails the test with its stack
  }
}

describe("hostile sizes", () => {
  it("an uncompressed directory larger than its devices lists what a kernel mount lists, and fails where it fails", async () => {
    const image = readFileSync(join(repoRoot(), "fixtures/demo.erofs"));
    let fs: ErofsFs = await mount(image);
    const root = await fs.root();
    const sound = (await fs.readdir(root)).map((e) => Buffer.from(e.name).toString());
    await fs.unmount();
    const grown = join(work.path, "demo-root-512m.erofs");
    writeFileSync(grown, withSize(image, root, 512 << 20));
    fs = await mount(grown);
    const ours: string[] = [];
    let errno = 0;
    try {
      for await (const e of fs.entries(await fs.root())) ours.push(Buffer.from(e.name).toString());
    } catch (e) {
      if (!ErofsError.isInstance(e)) throw e;
      errno = e.errno;
    }
    await fs.unmount();
    // Its entries were all inline: grown, its first block is looked for at its null block
    // address, past the image (EIO), and the inline ones are its last block's.
    expect(sound.length).toBeGreaterThan(0);
    expect({ names: ours, errno }).toEqual({ names: [], errno: 5 });
    const k = KernelMount.tryMount(grown);
    if (k) {
      try {
        expect({ names: ours, errno }).toEqual(kernelDirListing(k.dir));
      } finally {
        k.unmount();
      }
    }
  });

  it.skipIf(!corpus)("a directory whose i_size is beyond 2^53 (corpus/multialg, synthetic mutant 523308): its listing and a lookup in it fail EIO, as on a kernel mount, which reads its first block at its null block address and a lookup's first at half that size, both past the image (they failed EUCLEAN, refused for the size)", async () => {
    const image = readFileSync(join(corpus!, "multialg.erofs"));
    const path = Array.from({ length: 30 }, (_, i) => `d${i}`).join("/");
    let fs: ErofsFs = await mount(image);
    const dir = await fs.lookup(path);
    await fs.unmount();
    expect(dir.extended).toBe(true);
    const grown = join(work.path, "multialg-dir-beyond-2^53.erofs");
    writeFileSync(grown, withSize(image, dir, 0x70a5e10397042854n));
    fs = await mount(grown);
    const big = await fs.lookup(path);
    expect(big.sizeBig).toBe(0x70a5e10397042854n);
    const listing = await outcome((async () => (await fs.readdir(big)).length)());
    const lookup = await outcome(fs.lookup(`${path}/d30`));
    await fs.unmount();
    expect([listing.code, lookup.code]).toEqual(["EIO", "EIO"]);
    const k = KernelMount.tryMount(grown);
    if (k) {
      try {
        expect(kernelDirListing(join(k.dir, path))).toEqual({ names: [], errno: 5 });
        expect(() => lstatSync(join(k.dir, path, "d30"))).toThrow(expect.objectContaining({ code: "EIO" }));
      } finally {
        k.unmount();
      }
    }
  });

  it.skipIf(!hasMkfs)("a compressed file with i_size 2^32-1 reads its real extents, and beyond them (its index past the image reads as zeros) what a kernel mount reads, fast", async () => {
    const made = linesImage(work.path, "z", ["-zlz4hc", "-T0", "--all-root"]);
    const text = made.text.toString();
    const image = readFileSync(made.image);
    let fs = await mount(image);
    const file = await fs.lookup("big.txt");
    await fs.unmount();
    const grown = join(work.path, "z-grown.erofs");
    writeFileSync(grown, withSize(image, file, 0xffff_ffff));
    fs = await mount(grown);
    const big = await fs.lookup("big.txt");
    expect(big.size).toBe(0xffff_ffff);
    // The real data still decodes.
    expect(new TextDecoder().decode(await fs.read(big, 0, 20))).toBe("line 0 of a compress");
    const k = KernelMount.tryMount(grown);
    try {
      for (const at of [text.length + 4096, 1 << 30, 0xffff_ffff - 100]) {
        const o = await outcome(fs.read(big, at, 4096));
        // Whatever the garbage decodes to, it is decoded in bounded time (no walk of 2^20
        // lclusters), and any failure is typed.
        expect(o.ms).toBeLessThan(2000);
        if (!k) continue;
        expect(`${at}: ${o.code === "ok" ? sha256Hex([o.value!]) : o.code}`).toBe(`${at}: ${kernelRead(join(k.dir, "big.txt"), at, 4096)}`);
      }
    } finally {
      k?.unmount();
      await fs.unmount();
    }
  });
});

describe("errors the kernel names as it does", () => {
  it.skipIf(!hasMkfs)("an i_size of 2^44 bytes or more wraps the kernel's 32-bit count of compact indexes: the lclusters inside the wrapped count read, the rest fail EINVAL, as on a kernel mount", async () => {
    // Extended inodes: a compact inode's i_size has 32 bits only.
    const { image: img, text } = linesImage(work.path, "wrap", ["-zlz4hc", "-T0", "--all-root", "-Eforce-inode-extended"]);
    const image = readFileSync(img);
    let fs = await mount(image);
    const file = await fs.lookup("big.txt");
    expect(file).toMatchObject({ extended: true, datalayout: DATALAYOUT.COMPRESSED_COMPACT });
    await fs.unmount();
    // 2^32 + 2 blocks of 4 KiB: the count wraps to 2.
    const grown = join(work.path, "wrap-grown.erofs");
    writeFileSync(grown, withSize(image, file, 2 ** 44 + 5000));
    fs = await mount(grown);
    const big = await fs.lookup("big.txt");
    const k = KernelMount.tryMount(grown);
    try {
      const offsets = [0, 4096, 8192, 1 << 20, 2 ** 40, big.size - 100];
      const ours: string[] = [];
      for (const at of offsets) {
        const o = await outcome(fs.read(big, at, 4096));
        ours.push(`${at}: ${o.code === "ok" ? sha256Hex([o.value!]) : o.code}`);
      }
      // The two lclusters the count keeps hold the file's real first 8 KiB.
      expect(ours.slice(0, 3)).toEqual([`0: ${sha256Hex([text.subarray(0, 4096)])}`, `4096: ${sha256Hex([text.subarray(4096, 8192)])}`, "8192: EINVAL"]);
      if (k) expect(ours).toEqual(offsets.map((at) => `${at}: ${kernelRead(join(k.dir, "big.txt"), at, 4096)}`));
    } finally {
      k?.unmount();
      await fs.unmount();
    }
  });

  it("a compact index claiming lclusters larger than the format allows fails reads with EINVAL, as a kernel mount does", async () => {
    const demo = join(repoRoot(), "fixtures/demo.erofs");
    const image = readFileSync(demo);
    let fs = await mount(image);
    const file = await fs.lookup("docs/numbers.txt");
    expect(file.datalayout).toBe(DATALAYOUT.COMPRESSED_COMPACT);
    await fs.unmount();
    // The map header is 8 bytes at the first 8-aligned offset after the inode and its
    // xattrs; h_clusterbits, its last byte, adds its low 4 bits to the block size bits.
    const b = Buffer.from(image);
    b[Math.ceil(file.payloadOffset / 8) * 8 + 7]! |= 0x0f;
    const patched = join(work.path, "lclusterbits.erofs");
    writeFileSync(patched, resealSuperblock(b));
    fs = await mount(patched);
    const r = await outcome(fs.read(await fs.lookup("docs/numbers.txt"), 0, 4096));
    expect(r.code).toBe("EINVAL");
    expect(r.message).toMatch(/compact lcluster 0 out of range/);
    await fs.unmount();
    const kernel = KernelMount.tryMount(patched);
    if (!kernel) return;
    try {
      expect(() => readFileSync(join(kernel.dir, "docs/numbers.txt"))).toThrow(expect.objectContaining({ code: "EINVAL" }));
    } finally {
      kernel.unmount();
    }
  });
});

