import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AS_NOBODY, loadManifest, nameBytes, nobodyReaches, observeHostTree, repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { CLI, runCli } from "./run-cli.js";

/**
 * erofs-cli run by a caller without CAP_SYS_ADMIN: `xattr` shows what the kernel shows
 * such a caller (no trusted.*), and `extract` leaves out the attributes it could not set
 * (trusted.*, security.*), with one warning that counts them, instead of a failure per file.
 */
const fixtures = join(repoRoot(), "fixtures");
const SYS_ADMIN_ONLY = /^(trusted|security)\./;

function asAnotherUser(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("setpriv", [...AS_NOBODY, process.execPath, CLI, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Whether this run can switch users, and the other user can run the built CLI (not so in a
 * clone under /root) and reach os.tmpdir(), where it extracts into a directory of ours.
 */
const canSwitch = nobodyReaches(tmpdir()) && asAnotherUser(["--version"]).status === 0;
const tmp = new ScratchDir("erofs-cli-unpriv-");
afterAll(tmp.remove);

describe.skipIf(!canSwitch)("erofs-cli as a user without CAP_SYS_ADMIN", () => {
  const image = join(fixtures, "xattrs.erofs");

  it("xattr lists no trusted.* names; root's listing has them", async () => {
    const root = (await runCli(["xattr", image, "file00"])).stdout.toString().split("\n").filter(Boolean);
    const user = asAnotherUser(["xattr", image, "file00"]);
    expect(user.status).toBe(0);
    expect(root.some((n) => n.startsWith("trusted."))).toBe(true);
    expect(user.stdout.split("\n").filter(Boolean)).toEqual(root.filter((n) => !n.startsWith("trusted.")));
    // Asked by name, as getxattr(2) answers such a caller.
    const one = asAnotherUser(["xattr", image, "file00", "-n", "trusted.overlay.opaque"]);
    expect(one.status).toBe(1);
    expect(one.stderr).toMatch(/no such attribute/);
  });

  it("extract sets what it may, and one warning counts the rest", () => {
    chmodSync(tmp.path, 0o777);
    const dest = join(tmp.path, "out");
    const r = asAnotherUser(["extract", image, dest]);
    expect(r.status).toBe(0);
    const entries = loadManifest(image.replace(/\.erofs$/, ".manifest.json")).entries;
    const left = entries.reduce((n, e) => n + Object.keys(e.xattrs ?? {}).filter((k) => SYS_ADMIN_ONLY.test(k)).length, 0);
    expect(left).toBeGreaterThan(0);
    expect(r.stderr).toBe(`erofs-cli: xattrs: warning: ${left} trusted.* and security.* attributes not restored: setting them needs CAP_SYS_ADMIN\n`);
    const tree = observeHostTree(dest);
    for (const e of entries) {
      const got = tree.get(nameBytes(e.path).toString("base64"));
      const want = Object.entries(e.xattrs ?? {}).filter(([k]) => !SYS_ADMIN_ONLY.test(k));
      const have = [...(got?.xattrs ?? new Map<string, Uint8Array>())].map(([k, v]) => [k, Buffer.from(v).toString("base64")]);
      expect(have.sort(), JSON.stringify(e.path)).toEqual(want.sort());
    }
  });
});

describe.skipIf(process.getuid?.() !== 0)("erofs-cli xattr of names the kernel lists but will not read (as root: trusted.* shown)", () => {
  const image = join(fixtures, "xattrs-special.erofs");

  it("user.* of a symlink: listed, left out of -d and --json, and ENODATA by name", async () => {
    const names = (await runCli(["xattr", image, "l"])).stdout.toString().split("\n").filter(Boolean).sort();
    expect(names).toEqual(["security.s", "trusted.c", "user.b"]);
    const dump = (await runCli(["xattr", image, "l", "-d"])).stdout.toString();
    expect(dump).toContain('trusted.c="trusted on a symlink"');
    expect(dump).not.toContain("user.b");
    expect(Object.keys(JSON.parse((await runCli(["xattr", image, "l", "--json"])).stdout.toString()) as object).sort()).toEqual(["security.s", "trusted.c"]);
    const byName = await runCli(["xattr", image, "l", "-n", "user.b"]);
    expect(byName.status).toBe(1);
    expect(byName.stderr).toMatch(/no such attribute/);
  });
});
