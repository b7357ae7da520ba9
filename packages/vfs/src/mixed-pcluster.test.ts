import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KernelMount, loadManifest, nameBytes, repoRoot, sha256Hex } from "@erofs-ts/testkit";
import { ERRNO } from "@erofs-ts/format";
import { kernelRead } from "./file-answers.test-helper.js";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";

const fixtures = join(repoRoot(), "fixtures");
const image = join(fixtures, "zstd-mixed-pcluster.erofs");
// The same three files, as the kernel read them from zstd-short-extents.erofs.
const manifest = loadManifest(join(fixtures, "zstd-short-extents.manifest.json"));
const expected = new Map(manifest.entries.filter((e) => e.sha256).map((e) => [nameBytes(e.path).toString(), e.sha256!]));

/** Each 4 KiB page of a file read alone: the sha256 of its bytes, or the error's code. */
async function pageAnswers(fs: ErofsFs, file: Inode, cache: boolean): Promise<string[]> {
  const out: string[] = [];
  for (let at = 0; at < file.size; at += 4096) {
    out.push(
      await fs.read(file, at, 4096, { cache }).then(
        (b) => sha256Hex([b]),
        (e: unknown) => (ErofsError.isInstance(e) ? e.code : String(e)),
      ),
    );
  }
  return out;
}

/** pageAnswers on a kernel mount (pread of each page). */
function kernelPages(path: string, size: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < size; at += 4096) out.push(kernelRead(path, at, 4096));
  return out;
}

/**
 * fixtures/zstd-mixed-pcluster.erofs (made by make-zstd-short-extents.sh with mkfs.erofs
 * 1.9.3): CHANGELOG.md maps a zstd extent and an uncompressed one to the same block. The
 * kernel fails the read (EOPNOTSUPP); decoded apart, the uncompressed extent would be the
 * zstd frame's bytes, handed out as content without an error.
 */
describe("a pcluster that two extents read in two formats", () => {
  it("fails the file typed, with and without the page cache, and the other files read right", async () => {
    expect(expected.size).toBe(3);
    for (const cache of [true, false]) {
      const fs = await mount(image);
      try {
        for (const [path, sha] of expected) {
          const file = await fs.lookup(path);
          const read = fs.read(file, 0, file.size, { cache });
          if (path !== "CHANGELOG.md") {
            expect(sha256Hex([await read]), `${path}, cache ${cache}`).toBe(sha);
            continue;
          }
          const error = await read.then(
            () => null,
            (e: unknown) => e,
          );
          expect(ErofsError.isInstance(error) && error.code === "EOPNOTSUPP", `${String(error)}, cache ${cache}`).toBe(true);
          // Then page by page, as the kernel retries above FUSE: the pcluster keeps the
          // stored format of the extent read last, so the zstd extents (8 KiB each, longer
          // than the 4 KiB stored) stay refused, none decoded alone into garbage, and the
          // last page, of the short stored extent, reads (measured on a kernel mount below).
          const pages = await pageAnswers(fs, file, cache);
          expect(pages.slice(0, -1), `cache ${cache}`).toEqual(pages.slice(0, -1).map(() => "EOPNOTSUPP"));
          expect(pages.at(-1), `cache ${cache}`).toMatch(/^[0-9a-f]{64}$/);
        }
      } finally {
        await fs.unmount();
      }
    }
  });

  it("as the kernel reads it, the pages after the failed read included (skipped where it cannot mount: not root, or no erofs)", async (ctx) => {
    const k = KernelMount.tryMount(image);
    if (!k) return ctx.skip();
    const fs = await mount(image);
    try {
      // The errno of the vfs's answer above (Node names errno 95 ENOTSUP).
      expect(() => readFileSync(join(k.dir, "CHANGELOG.md"))).toThrow(expect.objectContaining({ errno: -ERRNO.EOPNOTSUPP }));
      const file = await fs.lookup("CHANGELOG.md");
      await expect(fs.read(file, 0, file.size)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EOPNOTSUPP");
      expect(await pageAnswers(fs, file, true)).toEqual(kernelPages(join(k.dir, "CHANGELOG.md"), file.size));
      for (const path of ["README.md", "package.json"]) expect(sha256Hex([readFileSync(join(k.dir, path))])).toBe(expected.get(path));
    } finally {
      k.unmount();
      await fs.unmount();
    }
  });
});
