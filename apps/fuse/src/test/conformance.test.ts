import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, statfsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

// The corpus (when present) and the in-repo fixtures: some of those are cases the corpus lacks.
const images = [...(corpus ? corpusImages(corpus) : []), ...fixtureImages()];

/** sha256 of a file under the mount, streamed; the path is taken as raw bytes (base64 key). */
async function hashFile(mnt: string, key: string): Promise<string> {
  const path = Buffer.concat([Buffer.from(`${mnt}/`), Buffer.from(key, "base64")]);
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}
/** `ls -f -a -R` of a tree, relative to it: every directory's entries in readdir order, unsorted, dots included. */
function rawListing(root: string): string {
  return execFileSync("ls", ["-f", "-a", "-R", "-b", "."], { cwd: root, encoding: "utf8", maxBuffer: 1 << 30 });
}

/** Images per daemon: each mount keeps 8 device reads and their threads busy. */
const BATCH = 8;
const ULLONG_MAX = (1n << 64n) - 1n;

/**
 * Every image mounted through erofs-fuse (several per daemon, sharing its cache) equals
 * its manifest as the host sees the mount: lstat fields (ino included: nids), readdir
 * order, symlink targets, getxattr/listxattr, content sha256, and statfs.
 */
describe.skipIf(!FUSE_AVAILABLE)("erofs-fuse serves every image as its manifest says", () => {
  for (let b = 0; b < images.length; b += BATCH) {
    const batch = images.slice(b, b + BATCH);
    describe(`images ${b + 1}..${b + batch.length}`, () => {
      let daemon: FuseDaemon | null = null;
      beforeAll(async () => {
        daemon = await FuseDaemon.start(
          batch.map((img) => {
            const { devices, fsoffset } = mountOptionsFor(loadManifest(img.manifest), img.image);
            const opts = [...devices.map((d) => `device=${d}`), ...(fsoffset ? [`fsoffset=${fsoffset}`] : [])];
            return { image: img.image, options: opts.join(",") };
          }),
        );
      });
      afterAll(async () => {
        if (daemon?.running) await daemon.stop();
        else daemon?.kill();
      });

      batch.forEach((img, i) => {
        it(img.name, { timeout: 900_000 }, async () => {
          const m = loadManifest(img.manifest);
          const mnt = daemon!.mountpoints[i]!;
          // Content is hashed asynchronously: a synchronous pass over a 5 GiB file would
          // stall the test worker past vitest's own RPC timeout.
          const tree = observeHostTree(mnt, { dirSize: true, content: false });
          for (const [key, o] of tree) {
            if (o.type === "file") o.sha256 = await hashFile(mnt, key);
          }
          const failures: string[] = [];
          let kernel: KernelMount | null | undefined;
          for (const entry of m.entries) {
            const got = tree.get(nameBytes(entry.path).toString("base64"));
            if (!got) {
              failures.push(`${JSON.stringify(entry.path)}: missing`);
              continue;
            }
            // A borrowed manifest (app-a-* variants) has another image's inode numbers.
            let diffs = compareEntry(entry, got, { ino: img.ownManifest });
            if (!img.ownManifest && diffs.length === 1 && diffs[0]!.startsWith("sha256")) {
              kernel ??= KernelMount.tryMount(img.image);
              if (kernel?.sha256(nameBytes(entry.path)) === got.sha256) diffs = [];
            }
            if (diffs.length) failures.push(`${JSON.stringify(entry.path)}: ${diffs.join("; ")}`);
          }
          // Every directory's raw listing, "." and ".." included (the manifest leaves them
          // out), against the kernel's own mount where it can mount the image here: a
          // directory stored without "." gets one where the kernel lists it.
          kernel ??= KernelMount.tryMount(img.image, mountOptionsFor(m, img.image));
          const listings = kernel ? [rawListing(mnt), rawListing(kernel.dir)] : [];
          kernel?.unmount();
          expect(failures.slice(0, 10)).toEqual([]);
          expect(tree.size).toBe(m.entries.length);
          if (listings.length) expect(listings[0]).toBe(listings[1]);

          const st = statfsSync(mnt, { bigint: true });
          expect(Number(st.bsize)).toBe(m.statfs.bsize);
          if (img.ownManifest) expect(Number(st.blocks)).toBe(m.statfs.blocks);
          expect(st.bfree).toBe(0n);
          expect(BigInt.asUintN(64, st.files)).toBe(m.statfs.files === -1 ? ULLONG_MAX : BigInt(m.statfs.files));
        });
      });
    });
  }
});
