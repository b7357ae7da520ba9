import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACL_UNDEFINED_ID, AS_NOBODY, KernelMount, nobodyReaches, posixAclXattr } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

/** An access ACL (the xattr's binary form) giving uid 65534 read on a file whose mode gives others nothing. */
function aclGrantingNobodyRead(): string {
  const acl = posixAclXattr([
    [0x01, 6, ACL_UNDEFINED_ID], // owner rw-
    [0x02, 4, 65534], // user 65534 r--
    [0x04, 0, ACL_UNDEFINED_ID], // owning group ---
    [0x10, 4, ACL_UNDEFINED_ID], // mask r--
    [0x20, 0, ACL_UNDEFINED_ID], // others ---
  ]);
  return `0x${acl.toString("hex")}`;
}

/** What another user gets reading each file: its bytes, or cat's complaint without the path. */
function readAsNobody(mnt: string): string {
  return ["granted", "plain"]
    .map((f) => {
      const r = spawnSync("setpriv", [...AS_NOBODY, "cat", join(mnt, f)], { encoding: "utf8" });
      return `${f}: ${r.status === 0 ? r.stdout.trim() : r.stderr.split(": ").pop()!.trim()}`;
    })
    .join("\n");
}

/**
 * POSIX ACLs take part in the kernel's permission checks on an erofs-fuse mount as on a
 * kernel mount, and a `noacl` mount leaves them out of both: a file whose mode shuts
 * others out but whose ACL lets uid 65534 read it.
 */
describe.skipIf(!FUSE_AVAILABLE)("POSIX ACLs decide access on an erofs-fuse mount as on a kernel mount", () => {
  let tmp = "";
  let image = "";
  let daemon: FuseDaemon | null = null;
  const kernels: Record<string, KernelMount | null> = {};
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "erofs-fuse-acl-"));
    const tree = join(tmp, "tree");
    mkdirSync(tree);
    for (const f of ["granted", "plain"]) {
      writeFileSync(join(tree, f), `${f} content\n`);
      chmodSync(join(tree, f), 0o600);
    }
    try {
      execFileSync("setfattr", ["-n", "system.posix_acl_access", "-v", aclGrantingNobodyRead(), join(tree, "granted")], { stdio: "pipe" });
      image = join(tmp, "acl.erofs");
      execFileSync("mkfs.erofs", [image, tree], { stdio: "ignore" });
    } catch {
      return; // no ACLs on this tmpdir's filesystem, or no mkfs.erofs: the tests skip
    }
    daemon = await FuseDaemon.start([
      { image, options: "allow_other,acl" },
      { image, options: "allow_other,noacl" },
    ]);
    chmodSync(daemon.dir, 0o755);
    for (const o of ["acl", "noacl"]) kernels[o] = KernelMount.tryMount(image, { options: [o] });
  });
  afterAll(async () => {
    for (const k of Object.values(kernels)) k?.unmount();
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
    rmSync(tmp, { recursive: true, force: true });
  });

  ["acl", "noacl"].forEach((o, i) => {
    it(o, (ctx) => {
      const kernel = kernels[o];
      if (!daemon || !kernel || !nobodyReaches(daemon.mountpoints[i]!) || !nobodyReaches(kernel.dir)) return ctx.skip();
      const got = readAsNobody(daemon.mountpoints[i]!);
      expect(got).toBe(readAsNobody(kernel.dir));
      expect(got).toBe(o === "acl" ? "granted: granted content\nplain: Permission denied" : "granted: Permission denied\nplain: Permission denied");
    });
  });
});
