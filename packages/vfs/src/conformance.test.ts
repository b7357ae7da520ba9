import { describe, expect, it } from "vitest";
import {
  CORPUS_ABSENT,
  compareEntry,
  corpusImages,
  ensureCorpus,
  isCompressedImage,
  loadManifest,
  mountOptionsFor,
  nameBytes,
} from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";
import { observe } from "./walk.test-helper.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

/**
 * Every corpus image against its manifest (what the kernel read), field by field.
 * Uncompressed images are compared whole; for compressed ones everything but file
 * content must already match, and reading content must fail cleanly with EOPNOTSUPP.
 */
describe.skipIf(!corpus)("corpus conformance through the vfs", () => {
  for (const img of corpus ? corpusImages(corpus) : []) {
    it(img.name, async () => {
      const m = loadManifest(img.manifest);
      const compressed = isCompressedImage(m);
      let fs;
      try {
        fs = await mount(img.image, mountOptionsFor(m, img.image));
      } catch (e) {
        // Compressed metadata needs the decompressor: refused cleanly, never garbage.
        if (compressed && ErofsError.isInstance(e) && e.code === "EOPNOTSUPP") return;
        throw e;
      }
      try {
        const st = fs.statfs();
        expect({ bsize: st.bsize, blocks: img.ownManifest ? st.blocks : "n/a", namemax: st.namemax }).toEqual({
          bsize: m.statfs.bsize,
          blocks: img.ownManifest ? m.statfs.blocks : "n/a",
          namemax: m.statfs.namemax,
        });
        const failures: string[] = [];
        for (const entry of m.entries) {
          let diffs: string[];
          try {
            const inode = await fs.lookup(nameBytes(entry.path));
            const got = await observe(fs, inode, !compressed || !entry.sha256);
            diffs = compareEntry(entry, got, { ino: img.ownManifest, content: !compressed });
            if (compressed && entry.type === "file" && entry.size > 0 && !(await readsOrRefuses(fs, inode))) {
              diffs.push("content read neither succeeded nor gave EOPNOTSUPP");
            }
          } catch (e) {
            // Compressed directories and symlinks also need the decompressor for now.
            if (compressed && ErofsError.isInstance(e) && e.code === "EOPNOTSUPP") continue;
            diffs = [String(e)];
          }
          if (diffs.length) failures.push(`${JSON.stringify(entry.path)}: ${diffs.join("; ")}`);
        }
        expect(failures.slice(0, 10)).toEqual([]);
      } finally {
        await fs.unmount();
      }
    });
  }
});

async function readsOrRefuses(fs: Awaited<ReturnType<typeof mount>>, inode: Awaited<ReturnType<Awaited<ReturnType<typeof mount>>["root"]>>): Promise<boolean> {
  try {
    await fs.read(inode, 0, 1);
    return true;
  } catch (e) {
    return ErofsError.isInstance(e) && e.code === "EOPNOTSUPP";
  }
}
