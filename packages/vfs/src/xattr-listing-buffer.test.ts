import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelMount, repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { mount } from "./index.js";

/**
 * listxattr(2) hands out one buffer of NUL-ended names, so a name holding a NUL byte (a
 * damaged entry, or one read through a stale page) is several names to every caller of a
 * kernel mount. fixtures/xattrs with a NUL written into the stored name "unique.0",
 * listed by the vfs and, through Python's os.listxattr, by a kernel mount.
 */
describe("a stored xattr name holding a NUL lists as listxattr(2) splits it", () => {
  const work = new ScratchDir("vfs-xattr-nul-");
  afterAll(work.remove);

  it("fixtures/xattrs with user.unique.0 stored as user.uni\\0ue.0", async (ctx) => {
    const bytes = Buffer.from(readFileSync(join(repoRoot(), "fixtures/xattrs.erofs")));
    const at = bytes.indexOf("unique.0");
    expect(at).toBeGreaterThan(0);
    expect(bytes.indexOf("unique.0", at + 1)).toBe(-1);
    bytes[at + 3] = 0;
    const image = join(work.path, "xattrs-nul.erofs");
    writeFileSync(image, bytes);

    const fs = await mount(image);
    const ours = (await fs.listxattr(await fs.lookup("file00"))).map((n) => Buffer.from(n).toString("latin1"));
    await fs.unmount();
    expect(ours).toContain("user.uni");
    expect(ours).toContain("ue.0");

    const k = KernelMount.tryMount(image);
    if (!k) return ctx.skip();
    try {
      const probe = "import os, sys; print('\\n'.join(n.encode('utf-8', 'surrogateescape').decode('latin1') for n in os.listxattr(sys.argv[1])))";
      const r = spawnSync("python3", ["-c", probe, join(k.dir, "file00")], { encoding: "latin1" });
      expect(r.status, r.stderr).toBe(0);
      expect(ours).toEqual(r.stdout.trimEnd().split("\n"));
    } finally {
      k.unmount();
    }
  });
});
