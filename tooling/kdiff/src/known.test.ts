import { describe, expect, it } from "vitest";
import type { Difference } from "./compare.js";
import { knownFamilies } from "./known.js";
import type { MkfsPlan } from "./options.js";

const plan = (flavour: MkfsPlan["flavour"], args: string[], tags: string[] = []): MkfsPlan => ({ flavour, args, source: "dir", hints: null, blob: false, tags, incremental: null });
const diff = (reader: Difference["reader"], field: string, kernel: unknown, ours: unknown): Difference => ({ reader, path: "f", field, kernel, ours });

describe("knownFamilies", () => {
  const plain = plan("debian", ["-zlz4"]);

  it("names erofs-fuse's EIO where the kernel fails otherwise, and nothing else of a reader's", () => {
    const ranges = diff("fuse", "ranges", [[0, 7, "EUCLEAN"], [9, 1, "abcd"]], [[0, 7, "EIO"], [9, 1, "abcd"]]);
    expect(knownFamilies(plain, [diff("fuse", "sha256", "EUCLEAN", "EIO"), ranges])).toEqual(["erofs-fuse answers failures EIO (apps/fuse README)"]);
    // The vfs gives the kernel's errno: EIO there is a difference.
    expect(knownFamilies(plain, [diff("vfs", "sha256", "EUCLEAN", "EIO")])).toBeNull();
    // Bytes where the kernel failed, or a failure where it read, are not an errno swap.
    expect(knownFamilies(plain, [diff("fuse", "sha256", "EUCLEAN", "00ff")])).toBeNull();
    expect(knownFamilies(plain, [diff("fuse", "ranges", [[0, 7, "abcd"]], [[0, 7, "EIO"]])])).toBeNull();
  });

  it("names erofs-fuse's listing without an empty xattr name, and nothing else missing or changed", () => {
    const kernel = [["dXNlci5h", "MQ=="], ["", "ERANGE"], ["AjQ=", "EOPNOTSUPP"]];
    const family = ["erofs-fuse lists no empty xattr name (README)"];
    expect(knownFamilies(plain, [diff("fuse", "xattrs", kernel, [kernel[0], kernel[2]])])).toEqual(family);
    expect(knownFamilies(plain, [diff("fuse", "xattrs", kernel, [kernel[0]])])).toBeNull();
    expect(knownFamilies(plain, [diff("fuse", "xattrs", [kernel[0], kernel[2]], [kernel[0]])])).toBeNull();
    expect(knownFamilies(plain, [diff("vfs", "xattrs", kernel, [kernel[0], kernel[2]])])).toBeNull();
  });

  it("names an extraction whose host refused an inode's xattrs for want of room, and only that", () => {
    const x = (name: string, value: string) => [Buffer.from(name).toString("base64"), value];
    const kernel = [x("user.a", "1"), x("user.big", "2".repeat(4000))];
    const warning = "erofs-cli: xattrs: warning: setfattr failed: setfattr: /d/extract/f: No space left on device";
    const family = ["extract: xattrs beyond what an ext4 inode holds"];
    expect(knownFamilies(plain, [diff("extract", "stderr", "0 socket warning(s)", [warning]), diff("extract", "xattrs", kernel, [x("user.a", "1")])])).toEqual(family);
    expect(knownFamilies(plain, [diff("extract", "xattrs", kernel, [])])).toEqual(family);
    // Several refusals in one setfattr batch: the first, and how many more (seed 52428).
    expect(knownFamilies(plain, [diff("extract", "stderr", "0 socket warning(s)", [`${warning} (and 2 more)`])])).toEqual(family);
    expect(knownFamilies(plain, [diff("extract", "stderr", "0 socket warning(s)", [`${warning} (and more)`])])).toBeNull();
    // Other warnings, other readers, or an xattr the kernel does not have: new.
    expect(knownFamilies(plain, [diff("extract", "stderr", "0 socket warning(s)", [warning, "erofs-cli: f: cannot write it in DEST: ..."])])).toBeNull();
    expect(knownFamilies(plain, [diff("extract", "stderr", "0 socket warning(s)", ["erofs-cli: xattrs: warning: setfattr failed: setfattr: /d/f: Operation not supported"])])).toBeNull();
    expect(knownFamilies(plain, [diff("vfs", "xattrs", kernel, [x("user.a", "1")])])).toBeNull();
    expect(knownFamilies(plain, [diff("extract", "xattrs", kernel, [x("user.a", "2")])])).toBeNull();
  });

  it("a family of the options covers content only; one difference outside every family makes the seed new", () => {
    const zstd = plan("upstream", ["-zzstd", "--max-extent-bytes=4096"], ["-zzstd", "--max-extent-bytes"]);
    const content = diff("vfs", "sha256", "EUCLEAN", "0123");
    expect(knownFamilies(zstd, [content])).toEqual(["1.9.3 zstd pclusters with --max-extent-bytes (README)"]);
    expect(knownFamilies(plan("debian", ["-zlz4"]), [content])).toBeNull();
    expect(knownFamilies(zstd, [content, diff("vfs", "mtimeNs", "1", "2")])).toBeNull();
    const tails = plan("upstream", ["-zlz4hc", "-Eztailpacking,fragments"]);
    expect(knownFamilies(tails, [diff("vfs", "ranges", [[0, 1, "aa"]], [[0, 1, "bb"]]), diff("fuse", "sha256", "EUCLEAN", "EIO")])).toEqual([
      "ztailpacking+fragments tails (README)",
      "erofs-fuse answers failures EIO (apps/fuse README)",
    ]);
  });
});
