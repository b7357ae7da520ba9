import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, compareEntry, corpusImages, ensureCorpus, loadManifest, mountOptionsFor, nameBytes } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { observe } from "./walk.test-helper.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

/**
 * Every corpus image against its manifest (what the Linux kernel read from it), field by
 * field: type, perm, uid, gid, size, mtime, nlink, ino, rdev, symlink target, xattrs,
 * content sha256, children in readdir order, and statfs.
 */
describe.skipIf(!corpus)("corpus conformance through the vfs", () => {
  for (const img of corpus ? corpusImages(corpus) : []) {
    it(img.name, async () => {
      const m = loadManifest(img.manifest);
      const fs = await mount(img.image, mountOptionsFor(m, img.image));
      try {
        const st = fs.statfs();
        expect({ bsize: st.bsize, blocks: img.ownManifest ? st.blocks : "n/a", namemax: st.namemax }).toEqual({
          bsize: m.statfs.bsize,
          blocks: img.ownManifest ? m.statfs.blocks : "n/a",
          namemax: m.statfs.namemax,
        });
        const failures: string[] = [];
        const kernelOnly: string[] = [];
        let kernel: KernelMount | undefined;
        for (const entry of m.entries) {
          let diffs: string[];
          try {
            const got = await observe(fs, await fs.lookup(nameBytes(entry.path)), true);
            diffs = compareEntry(entry, got, { ino: img.ownManifest });
            if (!img.ownManifest && diffs.length === 1 && diffs[0]!.startsWith("sha256")) {
              // A borrowed manifest (app-a-* variants) describes the source tree; where the
              // content differs, the kernel reading this very image is the judge.
              kernel ??= KernelMount.tryMount(img.image) ?? undefined;
              if (kernel && kernel.sha256(nameBytes(entry.path)) === got.sha256) {
                kernelOnly.push(JSON.stringify(entry.path));
                diffs = [];
              }
            }
          } catch (e) {
            diffs = [String(e)];
          }
          if (diffs.length) failures.push(`${JSON.stringify(entry.path)}: ${diffs.join("; ")}`);
        }
        kernel?.unmount();
        if (kernelOnly.length) console.log(`${img.name}: ${kernelOnly.length} file(s) differ from the source tree exactly as the kernel reads them: ${kernelOnly.join(", ")}`);
        expect(failures.slice(0, 10)).toEqual([]);
      } finally {
        await fs.unmount();
      }
    });
  }
});
