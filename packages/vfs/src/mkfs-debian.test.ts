import { execFileSync, spawnSync } from "node:child_process";
import { linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareEntry, entryFromObserved, hasCommand, KernelMount, observeHostTree, ScratchDir, seededRandom, type Observed } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { observe } from "./walk.test-helper.js";

/**
 * Images made during the run by Debian's mkfs.erofs 1.5 (when installed) from a generated
 * tree, each read through the vfs and compared with (a) the source tree and (b) the
 * kernel's reading of the same image (as root): every entry, ino included, content hashed.
 */
const hasMkfs = hasCommand("mkfs.erofs");
if (!hasMkfs) console.log("mkfs.erofs (Debian erofs-utils) not installed: images made by mkfs.erofs 1.5 are not tested");
const root = process.getuid?.() === 0;

const work = new ScratchDir("erofs-mkfs15-");
afterAll(work.remove);

/** Bytes that compress somewhat: words from a small vocabulary mixed with noise (the same for a seed on every run). */
function mixed(size: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const words = ["erofs", "pcluster", "lcluster", "block", "inode", "\n", " ", "0123456789", "compressed"];
  const b = Buffer.alloc(size);
  let i = 0;
  while (i < size) {
    if (rnd() % 7 === 0) b[i++] = rnd() & 0xff;
    else i += b.write(words[rnd() % words.length]!, i);
  }
  return b;
}

function random(size: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = rnd() & 0xff;
  return b;
}

function makeTree(dir: string): void {
  mkdirSync(join(dir, "sizes"), { recursive: true });
  for (const size of [0, 1, 511, 4095, 4096, 4097, 8191, 65536, 65537, 200_000]) {
    writeFileSync(join(dir, "sizes", `mixed-${size}`), mixed(size, size + 1));
  }
  writeFileSync(join(dir, "sizes", "random-300000"), random(300_000, 7));
  writeFileSync(join(dir, "sizes", "zeros-1m"), Buffer.alloc(1 << 20));
  writeFileSync(join(dir, "big-mixed"), mixed(3 << 20, 99));
  writeFileSync(join(dir, "hello"), "hello, erofs\n");
  linkSync(join(dir, "hello"), join(dir, "hello-hardlink"));
  symlinkSync("hello", join(dir, "hello-symlink"));
  symlinkSync("/".padEnd(300, "x"), join(dir, "long-symlink"));
  mkdirSync(join(dir, "wide"));
  for (let i = 0; i < 400; i++) writeFileSync(join(dir, "wide", `entry-with-a-long-name-${String(i).padStart(4, "0")}`), `${i}\n`);
  mkdirSync(join(dir, "deep/a/b/c/d"), { recursive: true });
  writeFileSync(join(dir, "deep/a/b/c/d/leaf"), mixed(12345, 5));
  writeFileSync(Buffer.concat([Buffer.from(join(dir, "latin1-")), Buffer.from([0xe9])]), "a name that is not UTF-8\n");
  if (root) {
    execFileSync("mknod", [join(dir, "null-dev"), "c", "1", "3"]);
    execFileSync("mknod", [join(dir, "block-dev"), "b", "7", "200"]);
  }
  execFileSync("mkfifo", [join(dir, "fifo")]);
  execFileSync("setfattr", ["-n", "user.comment", "-v", "made by the mkfs.erofs 1.5 test", join(dir, "hello")]);
  execFileSync("setfattr", ["-n", "user.empty", join(dir, "big-mixed")]);
  // Times with nanoseconds exercise extended inodes; a time before 1970 a negative one.
  utimesSync(join(dir, "deep/a/b/c/d/leaf"), -86_400, -86_400);
}

const VARIANTS: Array<{ name: string; args: string[]; blob?: boolean }> = [
  { name: "plain", args: [] },
  { name: "noinline", args: ["-Enoinline_data"] },
  { name: "chunked-4k", args: ["--chunksize=4096"] },
  { name: "chunked-64k", args: ["--chunksize=65536"] },
  { name: "blobdev", args: ["--chunksize=8192"], blob: true },
  { name: "lz4", args: ["-zlz4"] },
  { name: "lz4hc", args: ["-zlz4hc"] },
  { name: "lz4hc-12-C64k", args: ["-zlz4hc,12", "-C65536"] },
  { name: "lz4-C16k-ztailpacking", args: ["-zlz4", "-C16384", "-Eztailpacking"] },
  { name: "lz4hc-ztailpacking", args: ["-zlz4hc", "-Eztailpacking"] },
  { name: "lz4hc-legacy", args: ["-zlz4hc", "-Elegacy-compress"] },
];

describe.skipIf(!hasMkfs)("images made by Debian's mkfs.erofs 1.5", () => {
  // The source tree, made and observed before the first test.
  let src = "";
  let source = new Map<string, Observed>();
  beforeAll(() => {
    src = join(work.path, "src");
    mkdirSync(src);
    makeTree(src);
    source = observeHostTree(src);
  });

  for (const v of VARIANTS) {
    it(`${v.name} (${v.args.join(" ") || "no options"})`, async () => {
      const image = join(work.path, `${v.name}.erofs`);
      const blob = join(work.path, `${v.name}.blob`);
      const args = [...v.args, ...(v.blob ? [`--blobdev=${blob}`] : []), image, src];
      const made = spawnSync("mkfs.erofs", args, { encoding: "utf8" });
      // An option this mkfs.erofs build lacks is not ours to test.
      if (made.status !== 0 && /invalid|unknown|unrecognized/i.test(made.stderr)) return;
      expect(made.status, made.stderr).toBe(0);
      const devices = v.blob ? [blob] : [];
      const fs = await mount(image, { devices });
      const kernel = root ? KernelMount.tryMount(image, { devices }) : null;
      const kernelTree = kernel ? observeHostTree(kernel.dir, { dirSize: true }) : null;
      try {
        const failures: string[] = [];
        for (const [key, want] of source) {
          const path = Buffer.from(key, "base64");
          const got = await observe(fs, await fs.lookup(path), true);
          // Against the source: everything but inode numbers and directory sizes.
          const fromSource = { ...entryFromObserved(path, want), ...(want.type === "dir" ? { size: got.size! } : {}) };
          const d1 = compareEntry(fromSource, got, { ino: false, childrenOrder: false });
          // Against the kernel's reading of this image: everything, in the kernel's order.
          const k = kernelTree?.get(key);
          const d2 = k ? compareEntry(entryFromObserved(path, k), got, {}) : [];
          if (d1.length || d2.length) failures.push(`${path.toString() || "/"}: ${[...d1, ...d2.map((d) => `kernel ${d}`)].join("; ")}`);
        }
        expect(source.size).toBeGreaterThan(420);
        expect(failures.slice(0, 10)).toEqual([]);
        if (kernelTree) expect(kernelTree.size).toBe(source.size);
      } finally {
        kernel?.unmount();
        await fs.unmount();
      }
    });
  }
});
