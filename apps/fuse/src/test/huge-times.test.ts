import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelMount, repoRoot, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const work = new ScratchDir("erofs-fuse-huge-times-");
afterAll(work.remove);

const PATHS = ["", "hello.txt", "docs", "docs/README.md", "greeting"];

/**
 * st_mtime_ns of each path under `root`, from Python: Node's bigint lstat rounds times
 * this large (it passes the seconds through a double).
 */
function mtimes(root: string): string[] {
  const script = "import os, sys; print('\\n'.join(str(os.lstat(os.path.join(sys.argv[1], p)).st_mtime_ns) for p in sys.argv[2:]))";
  const out = execFileSync("/usr/bin/python3", ["-c", script, root, ...PATHS], { encoding: "utf8" }).trim().split("\n");
  return PATHS.map((p, i) => `${p || "."} ${out[i]}`);
}

/** `ours` equals the mtimes a kernel mount of `image` shows (where a kernel mount can be made). */
function expectKernelMtimes(image: string, ours: string[]): void {
  const kernel = KernelMount.tryMount(image);
  if (!kernel) return;
  try {
    expect(ours).toEqual(mtimes(kernel.dir));
  } finally {
    kernel.unmount();
  }
}

describe.skipIf(!FUSE_AVAILABLE)("mtimes past 2^53 seconds, or with 10^9 nanoseconds or more (a damaged or far-future image)", () => {
  it("are served exactly, as a kernel mount shows them", async (ctx) => {
    if (!existsSync("/usr/bin/python3")) return ctx.skip();
    // fixtures/demo's inodes are compact: their mtime is the superblock's epoch (64 bits,
    // at byte 24) plus their own 32-bit seconds.
    const image = Buffer.from(readFileSync(join(repoRoot(), "fixtures/demo.erofs")));
    const epoch = 2n ** 62n + 12345n;
    image.writeBigInt64LE(epoch, 1024 + 24);
    const patched = join(work.path, "late-epoch.erofs");
    writeFileSync(patched, resealSuperblock(image));
    const daemon = await FuseDaemon.start([{ image: patched }]);
    try {
      const ours = mtimes(daemon.mountpoints[0]!);
      // Past 2^53 seconds: a number could not hold them.
      for (const line of ours) expect(BigInt(line.split(" ")[1]!) / 1_000_000_000n).toBeGreaterThanOrEqual(epoch);
      expectKernelMtimes(patched, ours);
    } finally {
      await daemon.stop();
    }
  });

  it("a nanosecond field of 10^9 or more gives the instant a kernel mount shows (st_mtime_ns), which FUSE would clamp", async (ctx) => {
    if (!existsSync("/usr/bin/python3")) return ctx.skip();
    // Compact inodes take their nanoseconds from the superblock's fixed_nsec (32 bits at byte 32).
    const original = join(repoRoot(), "fixtures/demo.erofs");
    const image = Buffer.from(readFileSync(original));
    const nsec = 3_000_000_005;
    const before = image.readUInt32LE(1024 + 32);
    image.writeUInt32LE(nsec, 1024 + 32);
    const patched = join(work.path, "big-nsec.erofs");
    writeFileSync(patched, resealSuperblock(image));
    const daemon = await FuseDaemon.start([{ image: original }, { image: patched }]);
    try {
      const [was, ours] = daemon.mountpoints.map((m) => mtimes(m)) as [string[], string[]];
      for (let i = 0; i < PATHS.length; i++) {
        const [a, b] = [was[i]!, ours[i]!].map((line) => BigInt(line.split(" ")[1]!));
        expect(b! - a!).toBe(BigInt(nsec - before));
      }
      expectKernelMtimes(patched, ours);
    } finally {
      await daemon.stop();
    }
  });
});
