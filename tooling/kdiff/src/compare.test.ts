import { describe, expect, it } from "vitest";
import { compareWalks, normaliseErrno } from "./compare.js";
import type { WalkEntry, WalkResult } from "./walk.js";

const entry = (path: string, rest: Partial<WalkEntry> = {}): WalkEntry => ({
  path: Buffer.from(path).toString("base64"),
  type: "file",
  perm: 0o644,
  uid: 0,
  gid: 0,
  size: "5",
  mtimeNs: "1700000000123456789",
  nlink: 1,
  ino: "40",
  blocks: "8",
  xattrs: [],
  ranges: [[0, 7, "ab"]],
  sha256: "00",
  ...rest,
});
const walk = (entries: WalkEntry[]): WalkResult => ({
  statfs: { bsize: 4096, blocks: "3", files: "18446744073709551615", ffree: "18446744073709551612", namemax: 255 },
  entries: [entry("", { type: "dir", children: entries.map((e) => e.path) }), ...entries],
});

describe("compareWalks", () => {
  it("finds nothing between equal walks", () => {
    expect(compareWalks(walk([entry("f")]), walk([entry("f")]))).toEqual([]);
  });

  it("reports the field that changed, with both sides' values", () => {
    const d = compareWalks(walk([entry("f")]), walk([entry("f", { mtimeNs: "1700000000123456000" })]));
    expect(d).toEqual([{ reader: "vfs", path: "f", field: "mtimeNs", kernel: "1700000000123456789", ours: "1700000000123456000" }]);
    expect(compareWalks(walk([entry("f")]), walk([entry("f", { nlink: 2 })]), "fuse")).toEqual([{ reader: "fuse", path: "f", field: "nlink", kernel: 1, ours: 2 }]);
  });

  it("takes EFSCORRUPTED for EUCLEAN and ENOTSUP for EOPNOTSUPP, and no other errno for another", () => {
    expect(normaliseErrno(["EFSCORRUPTED", "ENOTSUP", "EIO"])).toEqual(["EUCLEAN", "EOPNOTSUPP", "EIO"]);
    const kernel = walk([entry("f", { sha256: "EUCLEAN", ranges: [[0, 7, "EOPNOTSUPP"]] })]);
    expect(compareWalks(kernel, walk([entry("f", { sha256: "EFSCORRUPTED", ranges: [[0, 7, "ENOTSUP"]] })]))).toEqual([]);
    expect(compareWalks(kernel, walk([entry("f", { sha256: "EIO", ranges: [[0, 7, "ENOTSUP"]] })])).map((d) => d.field)).toEqual(["sha256"]);
  });

  it("reports entries one side lacks, listing order, a mount only one side refuses and unexpected exceptions", () => {
    const two = walk([entry("a"), entry("b", { ino: "41" })]);
    const reversed = walk([entry("b", { ino: "41" }), entry("a")]);
    expect(compareWalks(two, reversed).map((d) => d.field)).toEqual(["children"]);
    const missing = compareWalks(two, walk([entry("a")]));
    expect(missing.map((d) => d.field)).toEqual(["children", "entry"]);
    expect(missing[1]).toEqual({ reader: "vfs", path: "b", field: "entry", kernel: "present", ours: "absent" });
    expect(compareWalks({ mountError: "wrong fs type", entries: [] }, two)).toEqual([{ reader: "vfs", path: "<image>", field: "mount", kernel: "wrong fs type", ours: "mounted" }]);
    expect(compareWalks(two, { ...two, unexpected: ["read f: TypeError"] })[0]!.field).toBe("unexpected");
  });
});
