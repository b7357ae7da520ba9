import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, corpusImages, ensureCorpus, fixtureImages, loadManifest, mountOptionsFor, type ManifestEntry } from "@erofs-ts/testkit";
import { runCli } from "./run-cli.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

/** What fsck counts of a manifest's tree: each inode once (hard links share an ino), by kind, and the files' bytes. */
function kinds(entries: readonly ManifestEntry[]): Record<string, number> {
  const byIno = new Map(entries.map((e) => [e.ino, e]));
  const count = { inodes: byIno.size, files: 0, dirs: 0, symlinks: 0, other: 0, bytes: 0 };
  for (const e of byIno.values()) {
    if (e.type === "file") {
      count.files++;
      count.bytes += e.size;
    } else if (e.type === "dir") count.dirs++;
    else if (e.type === "symlink") count.symlinks++;
    else count.other++;
  }
  return count;
}

/**
 * `erofs-cli fsck` of every image the kernel reads (the corpus's and the in-repo
 * fixtures', by their kernel manifests) finds nothing wrong, and counts the manifest's
 * inodes by kind. Attributes a kernel mount lists but will not read (user.* of a symlink,
 * fifo or device: a tar's) are no damage.
 */
describe("erofs-cli fsck finds every image the kernel reads whole sound", () => {
  for (const img of [...(corpus ? corpusImages(corpus) : []), ...fixtureImages()]) {
    it(img.name, async () => {
      const m = loadManifest(img.manifest);
      const { devices, fsoffset } = mountOptionsFor(m, img.image);
      const args = ["fsck", img.image, "--json", ...devices.flatMap((d) => ["--device", d]), ...(fsoffset ? ["--offset", String(fsoffset)] : [])];
      const r = await runCli(args);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const got = JSON.parse(r.stdout.toString()) as Record<string, number>;
      expect(got.errors).toBe(0);
      const { fingerprintsChecked: _checked, errors: _errors, ...counted } = got;
      expect(counted).toEqual(kinds(m.entries));
    }, 120_000);
  }
});
