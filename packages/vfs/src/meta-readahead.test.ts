import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@erofs-ts/ishare-cache";
import { CORPUS_ABSENT, ensureCorpus, loadManifest } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { eachEntry } from "./walk.test-helper.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

/**
 * Reading synchronously (as erofs-cli does), metadata comes through windows of its own
 * (mount.ts, SYNC_META_READAHEAD). Through file data's 256 KiB windows and what they fetch
 * ahead, a walk of app-a-plain read 28.8 MB of the image for 4.7 MB of metadata blocks and
 * directory pages, and app-a-lz4 16.8 MB for 3.7 MB: the file data between the inodes.
 */
describe.skipIf(!corpus)("metadata read by a synchronous walk", () => {
  for (const name of ["app-a-plain", "app-a-lz4"]) {
    it(`${name}: the image bytes read stay within 2.5× the blocks the walk uses`, async () => {
      let bytesRead = 0;
      const fs = await mount(join(corpus!, `real/${name}.erofs`), {
        syncReads: true,
        fileHooks: { afterRead: (_fd, _position, length) => (bytesRead += length) },
      });
      try {
        // The app-a variants hold app-a's tree: its manifest's entries, less the root.
        let entries = 0;
        await eachEntry(fs, () => entries++);
        expect(entries).toBe(loadManifest(join(corpus!, "real/app-a.manifest.json")).entries.length - 1);
        const stats = fs.cacheStats();
        // Each metadata block (inodes, inline directories, xattrs) and directory page loaded
        // once (none evicted), read whole from the image as the kernel reads them.
        expect(stats.metadata.evictions + stats.data.evictions).toBe(0);
        const used = stats.metadata.fills * fs.superblock.blockSize + stats.data.fills * PAGE_SIZE;
        expect(bytesRead).toBeGreaterThanOrEqual(used);
        expect(bytesRead).toBeLessThanOrEqual(2.5 * used);
      } finally {
        await fs.unmount();
      }
    });
  }
});
