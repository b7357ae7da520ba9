import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canMakeWideImage, CORPUS_ABSENT, corpusImages, ensureCorpus, KernelMount, loadManifest, makeWideImage, mountOptionsFor, scrambleWideNames, ScratchDir, WIDE_ENTRIES, wideEntryName } from "@erofs-ts/testkit";
import { mount, type ErofsFs, type Inode } from "./index.js";
import { kernelPathAnswer, vfsPathAnswer } from "./path-answers.test-helper.js";
import { eachEntry } from "./walk.test-helper.js";

/**
 * A lookup in a directory whose names are out of order (no mkfs writes one; a damaged
 * image has them) must find what the kernel's lookup finds: its binary search, with the
 * prefixes it skips, misses names readdir lists and can match names that differ in the
 * skipped bytes. The judge is a kernel mount of the same damaged image, asked for every
 * name the directory held, every name it holds now, and a few that are not there.
 */
const work = new ScratchDir("vfs-dir-lookup-");
afterAll(work.remove);

describe.skipIf(!canMakeWideImage() || process.getuid?.() !== 0)("lookups in a directory with names out of order, against the kernel", () => {
  it.each([1, 2, 3])("seed %i: every name, old, new and absent, answers as on a kernel mount", async (seed) => {
    const image = makeWideImage(join(work.path, `s${seed}`));
    const damaged = join(work.path, `s${seed}.erofs`);
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

/** The root and every directory under it. */
async function directories(fs: ErofsFs): Promise<Inode[]> {
  const out = [await fs.root()];
  await eachEntry(fs, (_path, inode) => {
    if (inode.kind === "dir") out.push(inode);
  });
  return out;
}

/**
 * lookupsFindListed lets erofs-fuse's READDIRPLUS skip a lookup per listed name: where it
 * says so, a lookup of every listed name must find the dirent listed (the nid), and a
 * directory with names out of order must not be taken for sound.
 */
describe("lookupsFindListed", () => {
  const corpus = ensureCorpus();
  if (!corpus) console.log(CORPUS_ABSENT);

  it.skipIf(!corpus)("every corpus directory it vouches for: each listed name's lookup finds the listed nid; most directories are vouched for", async () => {
    let vouched = 0;
    let refused = 0;
    for (const img of corpusImages(corpus!)) {
      const fs = await mount(img.image, mountOptionsFor(loadManifest(img.manifest), img.image)).catch(() => null);
      if (!fs) continue;
      try {
        for (const dir of await directories(fs)) {
          if (!(await fs.lookupsFindListed(dir))) {
            refused++;
            continue;
          }
          vouched++;
          for (const e of await fs.readdir(dir)) expect(await fs.lookupNid(dir, e.name), `${img.name} nid ${dir.nid}`).toBe(e.nid);
        }
      } finally {
        await fs.unmount();
      }
    }
    expect(vouched).toBeGreaterThan(1000);
    // Directories over 64 blocks (the widest ones) are left to per-name lookups.
    expect(refused).toBeLessThan(vouched / 10);
  }, 300_000);

  it.skipIf(!canMakeWideImage())("a wide directory: vouched for as mkfs wrote it, not once names are out of order", async () => {
    const image = makeWideImage(join(work.path, "vouch"));
    const damaged = join(work.path, "vouch-scrambled.erofs");
    scrambleWideNames(image, damaged, 11);
    const answers: boolean[] = [];
    for (const path of [image, damaged]) {
      const fs = await mount(path);
      try {
        const wide = await fs.lookup("wide");
        answers.push(await fs.lookupsFindListed(wide));
        // Asked again: the kept answer.
        answers.push(await fs.lookupsFindListed(wide));
      } finally {
        await fs.unmount();
      }
    }
    expect(answers).toEqual([true, true, false, false]);
  });
});
