import { lstatSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, ensureCorpus, repoRoot } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";

/**
 * Path lookup against the kernel's path walk on a mount of the same image: every path of
 * the image, with a trailing slash, "/.", "/..", doubled slashes and a leading "./", with
 * and without following a last symlink. Paths through an absolute symlink are left out:
 * the kernel resolves those on the host, erofs-ts inside the image.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const images = [join(repoRoot(), "fixtures/demo.erofs"), ...(corpus ? [join(corpus, "plain.erofs")] : [])];

async function allPaths(fs: ErofsFs, dir: Inode, prefix: string, out: { path: string; absolute: boolean }[]): Promise<void> {
  for await (const e of fs.entries(dir)) {
    const path = prefix + new TextDecoder().decode(e.name);
    const inode = await fs.iget(e.nid);
    const absolute = inode.kind === "symlink" && (await fs.readlink(inode))[0] === 0x2f;
    out.push({ path, absolute });
    if (inode.kind === "dir") await allPaths(fs, inode, `${path}/`, out);
  }
}

function variants(path: string): string[] {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return [path, `${path}/`, `${path}/.`, `${path}/..`, `${path}//`, `./${path}`, `${path}/./`, `${path}/../${base}`, `${path}/x`];
}

function kernelAnswer(root: string, path: string, follow: boolean): string {
  try {
    const st = (follow ? statSync : lstatSync)(`${root}/${path}`, { bigint: true });
    return `ino ${st.ino}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

async function ourAnswer(fs: ErofsFs, path: string, follow: boolean): Promise<string> {
  try {
    return `ino ${fs.stat(await fs.lookup(path, { follow })).ino}`;
  } catch (e) {
    return ErofsError.isInstance(e) ? e.code : String(e);
  }
}

describe("path lookup walks as the kernel's path walk does", () => {
  for (const image of images) {
    it(image.split("/").pop()!, async (ctx) => {
      const k = KernelMount.tryMount(image);
      if (!k) return ctx.skip();
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
              const want = kernelAnswer(k.dir, v, follow);
              const got = await ourAnswer(fs, v, follow);
              compared++;
              if (got !== want) differ.push(`${v} (${follow ? "follow" : "nofollow"}): kernel ${want}, ours ${got}`);
            }
          }
        }
        expect(differ).toEqual([]);
        expect(compared).toBeGreaterThan(paths.length * 10);
      } finally {
        await fs.unmount();
        k.unmount();
      }
    });
  }
});
