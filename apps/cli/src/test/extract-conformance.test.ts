import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CORPUS_ABSENT,
  KernelMount,
  compareEntry,
  corpusImages,
  ensureCorpus,
  fixtureImages,
  loadManifest,
  mountOptionsFor,
  nameBytes,
  observeHostTree,
} from "@erofs-ts/testkit";
import { runCli } from "./run-cli.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const root = process.getuid?.() === 0;

/**
 * `erofs-cli extract` of every corpus image reproduces the manifest on disk: type, mode,
 * owner, size, mtime to the nanosecond, link counts (hard links restored), device numbers,
 * symlink targets, xattrs, content, and each directory's children (as a set: the host
 * lists in its own order). Owners, devices and trusted.* xattrs need root.
 */
describe.skipIf(!root)("erofs-cli extract reproduces every corpus image and in-repo fixture", () => {
  for (const img of [...(corpus ? corpusImages(corpus) : []), ...fixtureImages()]) {
    it(img.name, async () => {
      const m = loadManifest(img.manifest);
      const dest = mkdtempSync(join(tmpdir(), "erofs-extract-"));
      try {
        const { devices, fsoffset } = mountOptionsFor(m, img.image);
        const args = ["extract", img.image, dest, ...devices.flatMap((d) => ["--device", d])];
        if (fsoffset) args.push("--offset", String(fsoffset));
        const r = await runCli(args);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const tree = observeHostTree(dest);
        const failures: string[] = [];
        let kernel: KernelMount | null | undefined;
        for (const entry of m.entries) {
          const key = nameBytes(entry.path).toString("base64");
          const got = tree.get(key);
          if (!got) {
            failures.push(`${JSON.stringify(entry.path)}: missing`);
            continue;
          }
          let diffs = compareEntry(entry, got, { ino: false, childrenOrder: false });
          if (!img.ownManifest && diffs.length === 1 && diffs[0]!.startsWith("sha256")) {
            // Borrowed manifest: the kernel reading this very image is the judge of content.
            kernel ??= KernelMount.tryMount(img.image);
            if (kernel?.sha256(nameBytes(entry.path)) === got.sha256) diffs = [];
          }
          if (diffs.length) failures.push(`${JSON.stringify(entry.path)}: ${diffs.join("; ")}`);
        }
        kernel?.unmount();
        expect(failures.slice(0, 10)).toEqual([]);
        // Nothing extracted that the image does not hold (no scratch files left behind).
        expect(tree.size).toBe(m.entries.length);
      } finally {
        rmSync(dest, { recursive: true, force: true });
      }
    });
  }
});
