import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, corpusImages, ensureCorpus, loadManifest, mountOptionsFor, nameBytes } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { manifestDiffs } from "./walk.test-helper.js";

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
        const kernelOnly: string[] = [];
        let kernel: KernelMount | undefined;
        const failures = await manifestDiffs(fs, m.entries, { ino: img.ownManifest }, (entry, got, diffs) => {
          if (img.ownManifest || diffs.length !== 1 || !diffs[0]!.startsWith("sha256")) return diffs;
          // A borrowed manifest (app-a-* variants) describes the source tree; where the
          // content differs, the kernel reading this very image is the judge.
          kernel ??= KernelMount.tryMount(img.image) ?? undefined;
          if (kernel?.sha256(nameBytes(entry.path)) !== got.sha256) return diffs;
          kernelOnly.push(JSON.stringify(entry.path));
          return [];
        });
        kernel?.unmount();
        if (kernelOnly.length) console.log(`${img.name}: ${kernelOnly.length} file(s) differ from the source tree exactly as the kernel reads them: ${kernelOnly.join(", ")}`);
        expect(failures.slice(0, 10)).toEqual([]);
      } finally {
        await fs.unmount();
      }
    });
  }
});
