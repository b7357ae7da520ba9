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

  it("holds the vfs's extents to the kernel's FIEMAP, and no other reader's (FUSE has no FIEMAP)", () => {
    const kernel = walk([entry("f", { extents: [[0, 4096, 4096, 1]] })]);
    expect(compareWalks(kernel, walk([entry("f", { extents: [[0, 8192, 4096, 1]] })]))).toEqual([
      { reader: "vfs", path: "f", field: "extents", kernel: [[0, 4096, 4096, 1]], ours: [[0, 8192, 4096, 1]] },
    ]);
    expect(compareWalks(kernel, walk([entry("f")]), "fuse")).toEqual([]);
    expect(compareWalks(kernel, walk([entry("f")]), "extract")).toEqual([]);
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

describe("compareWalks for the extract reader", () => {
  const b = (s: string) => Buffer.from(s).toString("base64");
  const noContent = { ranges: undefined, sha256: undefined, size: "0" };
  /** A kernel mount's walk: a socket, a 0644 symlink (from a tar), user.* on a fifo that the kernel lists but will not read. */
  const kernel = (): WalkResult => ({
    statfs: { bsize: 4096, blocks: "3", files: "18446744073709551615", ffree: "18446744073709551612", namemax: 255 },
    entries: [
      entry("", { ...noContent, type: "dir", perm: 0o755, size: "120", nlink: 3, ino: "36", blocks: "0", children: [b("f"), b("d"), b("l"), b("p"), b("s")], xattrs: [[b("user.z"), b("1")], [b("trusted.a"), b("2")]] }),
      entry("f", { nlink: 1, xattrs: [[b("system.posix_acl_access"), b("acl")]] }),
      entry("d", { ...noContent, type: "dir", perm: 0o700, size: "60", nlink: 2, ino: "50", children: [b("c"), b("h")] }),
      entry("d/c", { ...noContent, type: "chardev", rdev: [4095, 1048575], ino: "60" }),
      entry("d/h", { nlink: 2, ino: "70" }),
      entry("l", { ...noContent, type: "symlink", perm: 0o644, size: "1", target: b("f"), ino: "80" }),
      entry("p", { ...noContent, type: "fifo", ino: "90", xattrs: [[b("user.x"), "ENODATA"], [b("trusted.t"), b("v")]] }),
      entry("s", { ...noContent, type: "socket", ino: "100" }),
    ],
  });
  /** The same image extracted to ext4 and walked: only what the host cannot hold differs. */
  const extracted = (): WalkResult => ({
    statfs: { bsize: 4096, blocks: "66053021", files: "16777216", ffree: "16350969", namemax: 255 },
    entries: [
      entry("", { ...noContent, type: "dir", perm: 0o755, size: "4096", nlink: 3, ino: "2", blocks: "8", children: [b("p"), b("l"), b("d"), b("f")], xattrs: [[b("trusted.a"), b("2")], [b("user.z"), b("1")]] }),
      entry("p", { ...noContent, type: "fifo", ino: "12", blocks: "8", xattrs: [[b("trusted.t"), b("v")]] }),
      entry("l", { ...noContent, type: "symlink", perm: 0o777, size: "1", target: b("f"), ino: "13", blocks: "0" }),
      entry("d", { ...noContent, type: "dir", perm: 0o700, size: "4096", nlink: 2, ino: "14", blocks: "8", children: [b("h"), b("c")] }),
      entry("d/h", { nlink: 2, ino: "15", blocks: "16" }),
      entry("d/c", { ...noContent, type: "chardev", rdev: [4095, 1048575], ino: "16" }),
      entry("f", { nlink: 1, ino: "17", blocks: "16", xattrs: [[b("system.posix_acl_access"), b("acl")]] }),
    ],
    stderr: ["erofs-cli: s: warning: socket skipped"],
  });
  const at = (w: WalkResult, path: string): WalkEntry => w.entries.find((e) => e.path === b(path))!;

  it("finds nothing where only what a host tree cannot hold differs, and those fields still count for the other readers", () => {
    expect(compareWalks(kernel(), extracted(), "extract")).toEqual([]);
    const forVfs = new Set(compareWalks(kernel(), extracted(), "vfs").map((d) => d.field));
    for (const f of ["statfs", "ino", "blocks", "size", "children", "xattrs", "perm", "entry"]) expect(forVfs).toContain(f);
  });

  const changes: [string, string, (e: WalkEntry) => void][] = [
    ["type", "f", (e) => (e.type = "fifo")],
    ["perm", "f", (e) => (e.perm = 0o600)],
    ["perm", "l", (e) => (e.perm = 0o644)], // every host symlink is 0777: a 0644 one would be wrong
    ["uid", "f", (e) => (e.uid = 1000)],
    ["gid", "d", (e) => (e.gid = 70000)],
    ["size", "f", (e) => (e.size = "6")],
    ["mtimeNs", "d/c", (e) => (e.mtimeNs = "1700000000123456000")],
    ["mtimeNs", "", (e) => (e.mtimeNs = "-1")],
    ["nlink", "d/h", (e) => (e.nlink = 1)],
    ["nlink", "d", (e) => (e.nlink = 3)],
    ["rdev", "d/c", (e) => (e.rdev = [4095, 0])],
    ["target", "l", (e) => (e.target = b("g"))],
    ["xattrs", "", (e) => (e.xattrs = [[b("trusted.a"), b("3")], [b("user.z"), b("1")]])],
    ["xattrs", "p", (e) => (e.xattrs = [])],
    ["xattrs", "f", (e) => (e.xattrs = [])],
    ["sha256", "d/h", (e) => (e.sha256 = "01")],
    ["ranges", "f", (e) => (e.ranges = [[0, 7, "ac"]])],
    ["lookupError", "d/h", (e) => (e.lookupError = "EACCES")],
  ];
  it.each(changes)("reports %s of %j", (field, path, change) => {
    const ours = extracted();
    change(at(ours, path));
    expect(compareWalks(kernel(), ours, "extract").map((d) => [d.path || "/", d.field])).toEqual([[path || "/", field]]);
  });

  it("reports a name missing from a directory, and a socket present", () => {
    const ours = extracted();
    at(ours, "").children = [b("p"), b("l"), b("d")];
    ours.entries = ours.entries.filter((e) => e.path !== b("f"));
    expect(compareWalks(kernel(), ours, "extract").map((d) => `${d.path} ${d.field}`)).toEqual(["/ children", "f entry"]);
    const withSocket = extracted();
    at(withSocket, "").children = [b("p"), b("l"), b("d"), b("f"), b("s")];
    withSocket.entries.push(entry("s", { ...noContent, type: "socket" }));
    expect(compareWalks(kernel(), withSocket, "extract").map((d) => `${d.path} ${d.field}`)).toEqual(["/ children", "s entry"]);
  });

  it("holds stderr to one socket warning per socket, and exit status 1 without a failure of the kernel's is a difference", () => {
    const fields = (w: WalkResult) => compareWalks(kernel(), w, "extract").map((d) => `${d.path} ${d.field}`);
    expect(fields({ ...extracted(), stderr: [] })).toEqual(["<extract> stderr"]);
    expect(fields({ ...extracted(), stderr: ["erofs-cli: s: warning: socket skipped", "erofs-cli: xattrs: warning: setfattr: Operation not supported"] })).toEqual(["<extract> stderr"]);
    expect(fields({ ...extracted(), exitStatus: 1 })).toEqual(["<extract> exit status"]);
    expect(fields({ ...extracted(), exitStatus: 0 })).toEqual([]);
    expect(fields({ ...extracted(), unexpected: ["erofs-cli extract killed by SIGKILL"] })).toEqual(["<extract> unexpected"]);
  });

  /**
   * Where the kernel failed a call, extract meets the same failure: it reports it on one
   * line, exits 1 and writes what it could. Each case: the kernel's failure, what extract
   * leaves in the tree, and the line it prints.
   */
  const failures: [string, (k: WalkResult) => void, (o: WalkResult) => void][] = [
    [
      "an entry the kernel cannot look up: absent, and its directory's nlink is the host's",
      (k) => {
        at(k, "d").children = [b("c"), b("h"), b("x")];
        k.entries.push(entry("d/x", { lookupError: "EUCLEAN" }));
      },
      (o) => (at(o, "d").nlink = 7),
    ],
    [
      "a symlink whose target the kernel cannot read: absent",
      (k) => (at(k, "l").target = "EIO"),
      (o) => {
        o.entries = o.entries.filter((e) => e.path !== b("l"));
        at(o, "").children = [b("p"), b("d"), b("f")];
      },
    ],
    [
      "a directory the kernel cannot list: what extract listed before the failure, nlink the host's",
      (k) => {
        at(k, "d").children = "EIO";
        k.entries = k.entries.filter((e) => e.path !== b("d/c") && e.path !== b("d/h"));
      },
      (o) => {
        at(o, "d").children = [b("h")];
        at(o, "d").nlink = 5;
        o.entries = o.entries.filter((e) => e.path !== b("d/c"));
      },
    ],
    [
      "a file whose content the kernel cannot read: what extract wrote, with no metadata",
      (k) => Object.assign(at(k, "d/h"), { sha256: "EIO", ranges: "EIO" }),
      (o) => Object.assign(at(o, "d/h"), { sha256: "5e", ranges: [[0, 7, "5e"]], perm: 0o600, size: "1", mtimeNs: "1", nlink: 1 }),
    ],
    [
      "xattrs the kernel cannot read: those extract copied before the failure",
      (k) => (at(k, "").xattrs = [[b("user.z"), "EIO"], [b("trusted.a"), b("2")]]),
      (o) => (at(o, "").xattrs = []),
    ],
  ];
  it.each(failures)("takes %s, reported once with exit status 1", (_, failKernel, extractAsFailed) => {
    const k = kernel();
    failKernel(k);
    const o = extracted();
    extractAsFailed(o);
    const reported = { ...o, stderr: [...o.stderr!, "erofs-cli: d/x: corrupt image"], exitStatus: 1 };
    expect(compareWalks(k, reported, "extract")).toEqual([]);
    // Held to the kernel's failures: the line and the status are required ...
    const fields = (w: WalkResult) => compareWalks(k, w, "extract").map((d) => `${d.path} ${d.field}`);
    expect(fields({ ...o, exitStatus: 1 })).toEqual(["<extract> stderr"]);
    expect(fields({ ...reported, exitStatus: 0 })).toEqual(["<extract> exit status"]);
    expect(fields({ ...reported, stderr: [...reported.stderr, "erofs-cli: f: corrupt image"] })).toEqual(["<extract> stderr"]);
    // ... and what the failure leaves alone still compares.
    at(reported, "f").perm = 0o600;
    expect(fields(reported)).toEqual(["f perm"]);
  });
});
