import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, loadManifest, type ManifestEntry } from "@erofs-ts/testkit";
import { READ_AHEAD_MAX_BYTES } from "../read-ahead.js";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, daemonPerTest } from "./harness.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

/** Small files of app-a (the manifest holds for every app-a-* image), in manifest order. */
function smallFiles(): ManifestEntry[] {
  const m = loadManifest(join(corpus!, "real/app-a.manifest.json"));
  return m.entries.filter((e) => e.type === "file" && typeof e.path === "string" && e.size > 0 && e.size <= READ_AHEAD_MAX_BYTES);
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!FUSE_AVAILABLE || !corpus)("erofs-fuse reads small files ahead of their READs", () => {
  const slot = daemonPerTest();

  // Two codecs: LZ4 decodes in the guess's own turn, Zstandard's frames are larger.
  for (const image of ["app-a-lz4", "app-a-zstd"]) {
    it(`${image}: files opened by path are read ahead, bytes exact; lookups without reads stop it`, async () => {
      const daemon = (slot.daemon = await FuseDaemon.start([{ image: join(corpus!, `real/${image}.erofs`) }]));
      const mnt = daemon.mountpoints[0]!;
      const files = smallFiles();
      const readAll = (entries: ManifestEntry[]) => {
        for (const e of entries) expect(sha256(readFileSync(join(mnt, e.path as string))), e.path as string).toBe(e.sha256);
      };
      const counts = async () => (await daemon.stats()).mounts[0]!;

      readAll(files.slice(0, 60));
      const afterReads = await counts();
      // Each file was looked up and then read: nearly every READ found its bytes read ahead.
      expect(afterReads.readsAheadTaken).toBeGreaterThanOrEqual(50);
      expect(afterReads.readsAhead - afterReads.readsAheadTaken).toBeLessThanOrEqual(2);

      // lstat only: after a few guesses that no READ took, none.
      for (const e of files.slice(60, 90)) lstatSync(join(mnt, e.path as string));
      const afterStats = await counts();
      // (The file after the last one read may have been read ahead too.)
      expect(afterStats.readsAhead - afterReads.readsAhead).toBeLessThanOrEqual(4);
      expect(afterStats.readsAheadTaken).toBe(afterReads.readsAheadTaken);

      // Reading again: guesses resume once enough files looked up were read.
      readAll(files.slice(90, 130));
      const end = await counts();
      expect(end.readsAheadTaken - afterStats.readsAheadTaken).toBeGreaterThanOrEqual(25);
      expect(end.errors).toBe(0);
    });
  }

  it("app-a-lz4: a directory listed and then read in listing order (no LOOKUPs): each file after the first is read ahead", async () => {
    const daemon = (slot.daemon = await FuseDaemon.start([{ image: join(corpus!, "real/app-a-lz4.erofs") }]));
    const mnt = daemon.mountpoints[0]!;
    // The directory with the most small files, as `cp -r` or `tar` would go through it.
    const byDir = new Map<string, ManifestEntry[]>();
    for (const e of smallFiles()) byDir.set(dirname(e.path as string), [...(byDir.get(dirname(e.path as string)) ?? []), e]);
    const [dir, inDir] = [...byDir].sort((a, b) => b[1].length - a[1].length)[0]!;
    expect(inDir.length).toBeGreaterThanOrEqual(20);
    const want = new Map(inDir.map((e) => [e.path as string, e.sha256]));
    const before = (await daemon.stats()).mounts[0]!;
    let read = 0;
    for (const d of readdirSync(join(mnt, dir), { withFileTypes: true })) {
      const path = join(dir, d.name);
      if (!want.has(path)) continue;
      expect(sha256(readFileSync(join(mnt, path))), path).toBe(want.get(path));
      read++;
    }
    expect(read).toBe(inDir.length);
    const after = (await daemon.stats()).mounts[0]!;
    // Listed with attributes, the files need no LOOKUP: the guess after each READ did it.
    expect(after.readsAheadTaken - before.readsAheadTaken).toBeGreaterThanOrEqual(read - 3);
    expect(after.errors).toBe(0);
  });
});
