import { describe, expect, it } from "vitest";
import { mkfsOperands, planMkfs } from "./options.js";
import { planDigest, planTree, relativePath } from "./tree.js";

describe("planTree", () => {
  it("names one tree per seed: the same plan twice, another for the next seed", () => {
    expect(planDigest(planTree(20000))).toBe(planDigest(planTree(20000)));
    const digests = new Set([20000, 20001, 20002, 20003].map((s) => planDigest(planTree(s))));
    expect(digests.size).toBe(4);
  });

  it("over a few seeds, draws every kind of entry, holes, ns mtimes and xattrs of each namespace", () => {
    const nodes = [...Array(40).keys()].flatMap((i) => planTree(1000 + i).nodes);
    const kinds = new Set(nodes.map((n) => n.kind));
    expect([...kinds].sort()).toEqual(["blockdev", "chardev", "dir", "fifo", "file", "hardlink", "symlink"]);
    expect(nodes.some((n) => n.file && n.file.holes.length > 0)).toBe(true);
    expect(nodes.some((n) => n.meta && n.meta.mtimeNs % 1_000_000_000n !== 0n)).toBe(true);
    expect(nodes.some((n) => n.meta && n.meta.mtimeNs < 0n)).toBe(true);
    const names = new Set(nodes.flatMap((n) => n.xattrs.map(([name]) => name.split(".")[0])));
    expect([...names].sort()).toEqual(["security", "system", "trusted", "user"]);
    // Non-UTF-8 names and names near NAME_MAX.
    expect(nodes.some((n) => !Buffer.from(Buffer.from(n.path, "latin1").toString("utf8"), "utf8").equals(Buffer.from(n.path, "latin1")))).toBe(true);
    expect(nodes.some((n) => (n.path.split("/").pop() ?? "").length >= 200)).toBe(true);
    // No user.* xattr on a symlink or special file: the host refuses them.
    expect(nodes.filter((n) => !["file", "dir"].includes(n.kind)).flatMap((n) => n.xattrs).filter(([name]) => name.startsWith("user."))).toEqual([]);
  });

  it("gives relative symlink targets that lead to the file", () => {
    expect(relativePath("a/b", "a/c/f")).toBe("../c/f");
    expect(relativePath("", "d/f")).toBe("d/f");
    expect(relativePath("a", "f")).toBe("../f");
  });
});

describe("planMkfs", () => {
  const files = { hints: "/w/hints", blob: "/w/blob", store: "/w/store" };
  it("is deterministic per seed and flavour, and independent of the tree's draws", () => {
    expect(planMkfs(7, "debian", files)).toEqual(planMkfs(7, "debian", files));
    expect(planMkfs(7, "upstream", files).args).not.toEqual(planMkfs(7, "debian", files).args);
  });

  it("gives Debian's 1.5 only what it accepts: lz4/lz4hc, no -b, no tar, no 1.6+ -E options", () => {
    for (let s = 0; s < 300; s++) {
      const p = planMkfs(s, "debian", files);
      expect(p.source).toBe("dir");
      for (const a of p.args) {
        expect(a).not.toMatch(/^-b|^--tar|^-m|^--MZ|^-L/);
        if (a.startsWith("-z")) expect(a).toMatch(/^-zlz4(hc(,\d+)?)?$/);
        if (a.startsWith("-E")) {
          for (const e of a.slice(2).split(",")) {
            expect(["legacy-compress", "force-inode-compact", "force-inode-extended", "nosbcrc", "noinline_data", "force-inode-blockmap", "force-chunk-indexes", "ztailpacking"]).toContain(e);
          }
        }
      }
      expect(p.incremental).toBeNull();
    }
  });

  it("gives mkcomposefs only options of its own, each of them in some seed, from a directory, SOURCE before IMAGE", () => {
    const known = ["--min-version", "--max-version", "--use-epoch", "--skip-devices", "--skip-xattrs", "--user-xattrs", "--digest-store", "--threads"];
    const seen = new Set<string>();
    for (let s = 0; s < 300; s++) {
      const p = planMkfs(s, "composefs", files);
      expect(p).toMatchObject({ flavour: "composefs", source: "dir", hints: null, blob: false, incremental: null });
      for (const a of p.args) expect(known).toContain(a.split("=")[0]);
      expect(p.args.filter((a) => a.startsWith("--skip-xattrs") || a.startsWith("--user-xattrs")).length).toBeLessThanOrEqual(1);
      if (p.args.some((a) => a.startsWith("--digest-store"))) expect(p.args).toContain("--digest-store=/w/store");
      p.tags.forEach((t) => seen.add(t));
    }
    expect([...seen].sort()).toEqual([...known].sort());
    expect(mkfsOperands("composefs", "img", "src")).toEqual(["src", "img"]);
    expect(mkfsOperands("upstream", "img", "src")).toEqual(["img", "src"]);
  });

  it("draws incremental builds for 1.9.3 from a directory or a full tar only, and MicroLZMA bits the kernel takes (lc + lp ≤ 4, pb ≤ 4)", () => {
    const seen = { incremental: new Set<string>(), bits: 0 };
    for (let s = 0; s < 2000; s++) {
      const p = planMkfs(s, "upstream", files);
      if (p.incremental) {
        expect(p.source).not.toBe("tar-index");
        expect(p.tags).toContain("--incremental");
        seen.incremental.add(`${p.incremental.mode} ${p.incremental.base}`);
      }
      for (const m of p.args.join(" ").matchAll(/lzma[^:\s]*,lc=(\d),lp=(\d),pb=(\d)/g)) {
        expect(Number(m[1]) + Number(m[2])).toBeLessThanOrEqual(4);
        expect(Number(m[3])).toBeLessThanOrEqual(4);
        seen.bits++;
      }
    }
    expect(seen.incremental.size).toBe(6);
    expect(seen.bits).toBeGreaterThan(20);
  });
});
