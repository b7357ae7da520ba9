import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareEntry, entryFromObserved, fixtureImages, loadManifest, observeHostTree, repoRoot } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { manifestDiffs, observe } from "./walk.test-helper.js";

/**
 * The in-repo fixtures: small corpus images with their kernel manifests (so the suite
 * means something without ../shared), and demo.erofs against the tree it was made from.
 */
const fixtures = join(repoRoot(), "fixtures");

describe("in-repo fixture images match their kernel manifests", () => {
  for (const img of fixtureImages()) {
    it(img.name, async () => {
      const m = loadManifest(img.manifest);
      const fs = await mount(img.image);
      try {
        expect(fs.statfs().bsize).toBe(m.statfs.bsize);
        expect(await manifestDiffs(fs, m.entries)).toEqual([]);
      } finally {
        await fs.unmount();
      }
    });
  }
});

describe("fs.composefs", () => {
  it("is the header of an image mkcomposefs wrote (its format version), and null for one mkfs.erofs wrote", async () => {
    for (const [name, want] of [["composefs-v0", 0], ["composefs-v1", 1], ["demo", null]] as const) {
      const fs = await mount(join(fixtures, `${name}.erofs`));
      try {
        expect(fs.composefs?.formatVersion ?? null, name).toBe(want);
      } finally {
        await fs.unmount();
      }
    }
  });
});

describe("demo.erofs holds exactly its source tree (fixtures/demo-src)", () => {
  it("every entry: type, mode, size, content, target, children", async () => {
    const host = observeHostTree(join(fixtures, "demo-src"), { xattrs: false });
    const fs = await mount(join(fixtures, "demo.erofs"));
    try {
      for (const [key, want] of host) {
        const path = Buffer.from(key, "base64");
        const got = await observe(fs, await fs.lookup(path), true);
        // The image was made with --all-root and -T 1700000000: those replace the host's.
        const entry = {
          ...entryFromObserved(path, want),
          uid: 0,
          gid: 0,
          mtime_ns: 1_700_000_000_000_000_000n,
          ...(want.type === "dir" ? { size: got.size! } : {}),
        };
        expect(compareEntry(entry, got, { ino: false, xattrs: false, childrenOrder: false }), path.toString() || "/").toEqual([]);
      }
    } finally {
      await fs.unmount();
    }
  });
});
