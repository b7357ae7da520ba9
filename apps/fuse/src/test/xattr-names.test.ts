import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelMount, repoRoot, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const work = new ScratchDir("erofs-fuse-xattr-names-");
afterAll(work.remove);

/** listxattr(2) of each path as Python splits it at NULs, empty names included. */
function listed(paths: string[]): string[][] {
  const script = "import json, os, sys; print(json.dumps([os.listxattr(p, follow_symlinks=False) for p in sys.argv[1:]]))";
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, ...paths], { encoding: "utf8" })) as string[][];
}

/**
 * A copy of `image` with the stored name of one user.* xattr replaced (same length): the
 * one entry whose header (e_name_len, e_name_index 1, e_value_size) precedes the name.
 */
function withNameBytes(image: Buffer, name: string, replacement: Buffer): Buffer {
  const entries: number[] = [];
  for (let at = image.indexOf(name); at >= 0; at = image.indexOf(name, at + 1)) {
    if (image[at - 4] === name.length && image[at - 3] === 1) entries.push(at);
  }
  expect(entries).toHaveLength(1);
  const b = Buffer.from(image);
  replacement.copy(b, entries[0]!);
  return b;
}

describe.skipIf(!FUSE_AVAILABLE)("xattr names holding NULs (a damaged image)", () => {
  it("listxattr answers what a kernel mount lists, less the empty names the FUSE module refuses a whole list for", async (ctx) => {
    if (!existsSync("/usr/bin/python3")) return ctx.skip();
    let image: Buffer = readFileSync(join(repoRoot(), "fixtures/label.erofs"));
    // file00's user.empty becomes "user." and five NULs; file01's user.unique.1 becomes
    // "user.unique", a NUL and "1".
    image = withNameBytes(image, "empty", Buffer.alloc(5));
    image = withNameBytes(image, "unique.1", Buffer.from("unique\x001"));
    const patched = join(work.path, "nul-names.erofs");
    writeFileSync(patched, resealSuperblock(image));
    const daemon = await FuseDaemon.start([{ image: patched }]);
    try {
      const ours = listed(["file00", "file01"].map((f) => join(daemon.mountpoints[0]!, f)));
      expect(ours[0]).toContain("user.");
      expect(ours[1]).toEqual(expect.arrayContaining(["user.unique", "1"]));
      const kernel = KernelMount.tryMount(patched);
      if (!kernel) return;
      try {
        const theirs = listed(["file00", "file01"].map((f) => join(kernel.dir, f)));
        // The kernel copies the NULs out as they are: "user." then five empty names.
        expect(theirs[0]!.filter((n) => n === "").length).toBe(5);
        expect(ours).toEqual(theirs.map((names) => names.filter((n) => n !== "")));
      } finally {
        kernel.unmount();
      }
    } finally {
      await daemon.stop();
    }
  });
});
