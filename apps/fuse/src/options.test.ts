import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScratchDir } from "@erofs-ts/testkit";
import { parseArgs, parseSize, UsageError, VERSION_TEXT } from "./options.js";

const dir = new ScratchDir("erofs-fuse-opts-");
/** Two mountpoints, made before the first test. */
let [m1, m2] = ["", ""];
beforeAll(() => {
  [m1, m2] = [join(dir.path, "m1"), join(dir.path, "m2")];
  mkdirSync(m1);
  mkdirSync(m2);
});
afterAll(dir.remove);
const image = new URL("../../../fixtures/demo.erofs", import.meta.url).pathname;

describe("erofs-fuse command line", () => {
  it("pairs, flags and daemon options", () => {
    const o = parseArgs(["-d", "--stats", "s.json", "-o", "cache_size=64M,allow_other,spin_us=0", image, m1]);
    expect(o.debug && o.foreground).toBe(true);
    expect(o.spinMicros).toBe(0);
    expect(parseArgs([image, m1]).spinMicros).toBe(100);
    expect(o.dropImagePages).toBe(true);
    expect(parseArgs(["-o", "image_cache=keep", image, m1]).dropImagePages).toBe(false);
    expect(o.cacheBytes).toBe(64 << 20);
    expect(o.allowOther).toBe(true);
    expect(o.statsFile).toMatch(/s\.json$/);
    expect(o.pairs).toHaveLength(1);
    expect(o.pairs[0]!.mountpoint).toBe(m1);
  });

  it("share options carry to later pairs; device= and fsoffset= apply to the next pair only", () => {
    const o = parseArgs(["-o", "inode_share,domain_id=a,device=/x,fsoffset=4096", image, m1, "-o", "domain_id=b", image, m2]);
    expect(o.pairs[0]!.options).toMatchObject({ inodeShare: true, domainId: "a", devices: ["/x"], fsoffset: 4096 });
    expect(o.pairs[1]!.options).toMatchObject({ inodeShare: true, domainId: "b", devices: [], fsoffset: 0 });
  });

  it("the kernel's xattr switches carry to later pairs until switched back; options copied from /proc/mounts are taken", () => {
    const o = parseArgs(["-o", "nouser_xattr,noacl", image, m1, "-o", "acl", image, m2]);
    expect(o.pairs[0]!.options).toMatchObject({ userXattr: false, acl: false });
    expect(o.pairs[1]!.options).toMatchObject({ userXattr: false, acl: true });
    // What /proc/mounts shows for a kernel erofs mount.
    const copied = parseArgs(["-o", "ro,relatime,user_xattr,acl,cache_strategy=readaround", image, m1]);
    expect(copied.pairs[0]!.options).toMatchObject({ userXattr: true, acl: true });
    expect(copied.pairs[0]!.flags).toEqual(["relatime"]);
    expect(() => parseArgs(["-o", "noacl=1", image, m1])).toThrow(/noacl takes no value/);
    // directio and nodirectio: the kernel's names for dropping or keeping image pages.
    expect(parseArgs(["-o", "nodirectio", image, m1]).dropImagePages).toBe(false);
    expect(parseArgs(["-o", "image_cache=keep,directio", image, m1]).dropImagePages).toBe(true);
    // dax: taken with a notice, as the kernel mounts without DAX on a device that has none.
    expect(parseArgs(["-o", "dax=always", image, m1]).notices).toEqual([expect.stringMatching(/^dax ignored/)]);
    expect(parseArgs(["-o", "dax=never", image, m1]).notices).toEqual([]);
    expect(() => parseArgs(["-o", "dax=sometimes", image, m1])).toThrow(/dax=sometimes/);
    expect(() => parseArgs(["-o", "cache_strategy=lots", image, m1])).toThrow(/cache_strategy/);
  });

  it("generic mount flags: applied ones carry to later pairs, ones always in force are accepted", () => {
    const o = parseArgs(["-o", "nosuid,nodev,default_permissions,ro,noexec", image, m1, "-o", "noatime", image, m2]);
    expect(o.pairs[0]!.flags).toEqual(["noexec"]);
    expect(o.pairs[1]!.flags).toEqual(["noexec", "noatime"]);
    expect(o.pairs[0]!.options).toMatchObject({ devices: [], inodeShare: false });
    // mount.fuse3 adds suid,dev to root mounts from fstab: taken, not honoured, and said so.
    const fstab = parseArgs([image, m1, "-o", "ro,noexec,dev,suid"]);
    expect(fstab.pairs[0]!.flags).toEqual(["noexec"]);
    expect(fstab.notices).toEqual(expect.arrayContaining([expect.stringMatching(/^dev ignored: .*nodev/), expect.stringMatching(/^suid ignored: .*nosuid/)]));
    expect(fstab.notices).toHaveLength(2);
    expect(parseArgs([image, m1]).notices).toEqual([]);
  });

  it("options between IMAGE and MOUNTPOINT, and after the last pair, are that pair's", () => {
    const between = parseArgs([image, "-o", "fsoffset=4096,noexec", m1]);
    expect(between.pairs[0]!.options.fsoffset).toBe(4096);
    expect(between.pairs[0]!.flags).toEqual(["noexec"]);
    // The mount.fuse3 form: options last. A later value overrides an earlier one.
    const trailing = parseArgs(["-o", "domain_id=a,fsoffset=512", image, m1, "-o", "inode_share,domain_id=b,device=/x,noatime"]);
    expect(trailing.pairs[0]!.options).toMatchObject({ inodeShare: true, domainId: "b", devices: ["/x"], fsoffset: 512 });
    expect(trailing.pairs[0]!.flags).toEqual(["noatime"]);
    // With two pairs, trailing options reach the last one only.
    const two = parseArgs(["-o", "device=/a", image, m1, image, m2, "-o", "device=/b,domain_id=c"]);
    expect(two.pairs[0]!.options).toMatchObject({ devices: ["/a"], domainId: undefined });
    expect(two.pairs[1]!.options).toMatchObject({ devices: ["/b"], domainId: "c" });
    expect(() => parseArgs([image, m1, image, "-o", "noexec"])).toThrow(/IMAGE MOUNTPOINT pairs/);
  });

  it("--version and -V answer with the package's version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) expect(() => parseArgs([flag])).toThrow(new UsageError(`erofs-fuse ${version}`));
    expect(VERSION_TEXT).toBe(`erofs-fuse ${version}`);
  });

  it("refuses what it cannot honour", () => {
    expect(() => parseArgs([image])).toThrow(UsageError);
    expect(() => parseArgs(["-x", image, m1])).toThrow(/unknown option -x/);
    expect(() => parseArgs(["-o", "rw", image, m1])).toThrow(/read-only/);
    // The vfs's option errors become usage errors, the option named once (it is their where).
    expect(() => parseArgs(["-o", "bogus", image, m1])).toThrow(new UsageError('unknown mount option "bogus"', false));
    expect(() => parseArgs(["-o", "cache_size=", image, m1])).toThrow(new UsageError('cache_size needs a byte count, got ""', false));
    expect(() => parseArgs([image, m1, image, m1])).toThrow(/given twice/);
    expect(() => parseArgs([image, join(dir.path, "nope")])).toThrow(/nope: no such directory/);
    expect(() => parseArgs([image, image])).toThrow(/: not a directory/);
    expect(() => parseArgs(["-o"])).toThrow(/needs a value/);
    expect(() => parseSize("12K")).toThrow(/at least 1M/);
    for (const bad of ["1001", "-1", "5ms", ""]) expect(() => parseArgs(["-o", `spin_us=${bad}`, image, m1])).toThrow(/spin_us/);
    expect(() => parseArgs(["-o", "image_cache=maybe", image, m1])).toThrow(/image_cache=maybe/);
    expect(parseSize("2G")).toBe(2 * 2 ** 30);
  });
});
