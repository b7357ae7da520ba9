import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelMount, WIDE_ENTRIES, canMakeWideImage, makeWideImage, scrambleWideNames, wideEntryName } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { kernelPathAnswer, vfsPathAnswer } from "./path-answers.test-helper.js";

/**
 * A lookup in a directory whose names are out of order (no mkfs writes one; a damaged
 * image has them) must find what the kernel's lookup finds: its binary search, with the
 * prefixes it skips, misses names readdir lists and can match names that differ in the
 * skipped bytes. The judge is a kernel mount of the same damaged image, asked for every
 * name the directory held, every name it holds now, and a few that are not there.
 */
const work = mkdtempSync(join(tmpdir(), "vfs-dir-lookup-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!canMakeWideImage() || process.getuid?.() !== 0)("lookups in a directory with names out of order, against the kernel", () => {
  it.each([1, 2, 3])("seed %i: every name, old, new and absent, answers as on a kernel mount", async (seed) => {
    const image = makeWideImage(join(work, `s${seed}`));
    const damaged = join(work, `s${seed}.erofs`);
    const renamed = scrambleWideNames(image, damaged, seed);
    expect(renamed.length).toBeGreaterThan(100);
    const k = KernelMount.tryMount(damaged)!;
    expect(k).not.toBeNull();
    const fs = await mount(damaged);
    try {
      const listed = readdirSync(join(k.dir, "wide"));
      const names = new Set([...Array.from({ length: WIDE_ENTRIES }, (_, i) => wideEntryName(i)), ...renamed, ...listed, "entry-", "zzzz", "entry-00000-"]);
      let found = 0;
      const differ: string[] = [];
      for (const name of names) {
        // A path, as the kernel's answer is to one: a name that finds its own directory is ELOOP.
        const theirs = kernelPathAnswer(k.dir, `wide/${name}`, false);
        const ours = await vfsPathAnswer(fs, `wide/${name}`, false);
        if (ours !== theirs) differ.push(`${name}: kernel ${theirs}, erofs-ts ${ours}`);
        if (theirs.startsWith("ino")) found++;
      }
      expect(differ).toEqual([]);
      // The damage does hide names from the kernel's lookup, which is what is being matched.
      expect(found).toBeLessThan(listed.length);
    } finally {
      await fs.unmount();
      k.unmount();
    }
  });
});
