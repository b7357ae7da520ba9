import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canCorruptInodes, CORPUS_ABSENT, ensureCorpus, KernelMount, renumberEntry, repointEntry, repoRoot, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";
import { kernelPathAnswer, vfsPathAnswer } from "./path-answers.test-helper.js";

/**
 * Path lookup against the kernel's path walk on a mount of the same image: every path of
 * the image, with a trailing slash, "/.", "/..", doubled slashes and a leading "./", with
 * and without following a last symlink. Paths through an absolute symlink are left out:
 * the kernel resolves those on the host, erofs-ts inside the image.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const images = [join(repoRoot(), "fixtures/demo.erofs"), ...(corpus ? [join(corpus, "plain.erofs")] : [])];
const work = new ScratchDir("vfs-path-walk-");
afterAll(work.remove);

/** Every path of the image; a directory listed again (a corrupt image's loop) is not entered again. */
async function allPaths(fs: ErofsFs, dir: Inode, prefix: string, out: { path: string; absolute: boolean }[], entered = new Set([dir.nid])): Promise<void> {
  for await (const e of fs.entries(dir)) {
    const path = prefix + new TextDecoder().decode(e.name);
    const inode = await fs.iget(e.nid);
    const absolute = inode.kind === "symlink" && (await fs.readlink(inode))[0] === 0x2f;
    out.push({ path, absolute });
    if (inode.kind === "dir" && !entered.has(inode.nid)) {
      entered.add(inode.nid);
      await allPaths(fs, inode, `${path}/`, out, entered);
    }
  }
}

function variants(path: string): string[] {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return [path, `${path}/`, `${path}/.`, `${path}/..`, `${path}//`, `./${path}`, `${path}/./`, `${path}/../${base}`, `${path}/x`];
}

/** Every path of the image and its variants, looked up by the vfs and by the kernel: where they differ. */
async function differencesFromKernel(image: string, kernelDir: string): Promise<{ differ: string[]; compared: number; paths: number }> {
  const fs = await mount(image);
  try {
    const paths: { path: string; absolute: boolean }[] = [];
    await allPaths(fs, await fs.root(), "", paths);
    const differ: string[] = [];
    let compared = 0;
    for (const { path, absolute } of paths) {
      for (const v of variants(path)) {
        for (const follow of [false, true]) {
          // Through an absolute symlink the kernel leaves the image.
          if (absolute && (follow || v !== path)) continue;
          const want = kernelPathAnswer(kernelDir, v, follow);
          const got = await vfsPathAnswer(fs, v, follow);
          compared++;
          if (got !== want) differ.push(`${v} (${follow ? "follow" : "nofollow"}): kernel ${want}, ours ${got}`);
        }
      }
    }
    return { differ, compared, paths: paths.length };
  } finally {
    await fs.unmount();
  }
}

describe("path lookup walks as the kernel's path walk does", () => {
  for (const image of images) {
    it(image.split("/").pop()!, async (ctx) => {
      const k = KernelMount.tryMount(image);
      if (!k) return ctx.skip();
      try {
        const { differ, compared, paths } = await differencesFromKernel(image, k.dir);
        expect(differ).toEqual([]);
        expect(compared).toBeGreaterThan(paths * 10);
      } finally {
        k.unmount();
      }
    });
  }

  // The kernel places an inode at meta_blkaddr's offset + (nid << 5) in 64-bit arithmetic:
  // a nid with bit 59 set wraps around onto the inode of the nid without it.
  it.skipIf(!canCorruptInodes())("demo with docs/README.md's entry nid carrying bit 59: the same file, as the kernel's 64-bit inode offset finds it", async (ctx) => {
    const image = renumberEntry(join(repoRoot(), "fixtures/demo.erofs"), join(work.path, "nid-bit59.erofs"), "/docs", "README.md", (nid) => nid | (1n << 59n));
    const fs = await mount(image);
    const file = await fs.lookup("docs/README.md");
    const ours = sha256Hex([await fs.read(file, 0, file.size)]);
    await fs.unmount();
    const k = KernelMount.tryMount(image);
    if (!k) return ctx.skip();
    try {
      expect(ours).toBe(sha256Hex([readFileSync(join(k.dir, "docs/README.md"))]));
      const { differ } = await differencesFromKernel(image, k.dir);
      expect(differ).toEqual([]);
    } finally {
      k.unmount();
    }
  });

  // A directory has one name: an entry naming a directory on its own path again (the root,
  // or its own parent) is ELOOP to the kernel's VFS, which would otherwise loop.
  for (const target of ["/", "/docs"]) {
    it.skipIf(!canCorruptInodes())(`demo with docs/README.md naming ${target}: ELOOP wherever the kernel says so`, async (ctx) => {
      const image = repointEntry(join(repoRoot(), "fixtures/demo.erofs"), join(work.path, `named-again-${target.length}.erofs`), "/docs", "README.md", target);
      const fs = await mount(image);
      const r = await fs.lookup("docs/README.md").then(() => "ok", (e: unknown) => (ErofsError.isInstance(e) ? e.code : String(e)));
      await fs.unmount();
      expect(r).toBe("ELOOP");
      const k = KernelMount.tryMount(image);
      if (!k) return ctx.skip();
      try {
        const { differ } = await differencesFromKernel(image, k.dir);
        expect(differ).toEqual([]);
      } finally {
        k.unmount();
      }
    });
  }
});
