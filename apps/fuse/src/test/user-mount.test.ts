import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processAlive, repoRoot } from "@erofs-ts/testkit";
import { ENTRY, FUSE_AVAILABLE, mountedPaths, waitFor } from "./harness.js";

const NOBODY = { uid: 65534, gid: 65534 };
const has = (cmd: string, arg = "--version") => spawnSync(cmd, [arg]).status !== null;
const READY = FUSE_AVAILABLE && has("fusermount3", "-V") && has("setpriv") && has(process.env.CC || "cc");
if (!READY) console.log("erofs-fuse user-mount test skipped: needs root, /dev/fuse, fusermount3, setpriv and a C compiler (the native part)");

/** Runs a command as nobody, the way an ordinary user would. */
function asNobody(argv: string[], options: { cwd?: string } = {}) {
  return spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", ...argv], { encoding: "utf8", timeout: 60_000, ...options });
}

describe.skipIf(!READY)("erofs-fuse as an ordinary user", () => {
  it("mounts through fusermount3 (the descriptor comes back over a socket) and unmounts on SIGTERM", async () => {
    const demoSrc = join(repoRoot(), "fixtures/demo-src");
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-user-"));
    // fusermount3 opens /dev/fuse as the user: most distributions ship it 0666, some VMs 0600.
    const fuseMode = statSync("/dev/fuse").mode & 0o7777;
    try {
      chmodSync("/dev/fuse", 0o666);
      chmodSync(dir, 0o755);
      const image = join(dir, "demo.erofs");
      copyFileSync(join(repoRoot(), "fixtures/demo.erofs"), image);
      chmodSync(image, 0o644);
      const state = join(dir, "state");
      const mnt = join(dir, "m");
      for (const d of [state, mnt]) {
        mkdirSync(d);
        chownSync(d, NOBODY.uid, NOBODY.gid);
      }
      const pidFile = join(state, "pid");
      const r = asNobody([process.execPath, ENTRY, "--pidfile", pidFile, "--stats", join(state, "stats.json"), image, mnt]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const pid = Number(readFileSync(pidFile, "utf8"));
      try {
        const line = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === mnt) ?? "";
        expect(line).toMatch(/ fuse\.erofs /);
        expect(line).toMatch(/user_id=65534/);
        expect(line).toMatch(/nosuid/);
        for (const f of ["hello.txt", "docs/README.md"]) {
          const cat = asNobody(["cat", join(mnt, f)]);
          expect(cat.status).toBe(0);
          expect(cat.stdout).toBe(readFileSync(join(demoSrc, f), "utf8"));
        }
        process.kill(pid, "SIGUSR1");
        await waitFor(() => existsSync(join(state, "stats.json")), 10_000, "the stats file");
        expect(JSON.parse(readFileSync(join(state, "stats.json"), "utf8")).mounts[0].reader).toBe("poll");
        // SIGTERM: the daemon unmounts with fusermount3 -u (a user cannot umount(8)).
        process.kill(pid, "SIGTERM");
        await waitFor(() => !processAlive(pid), 20_000, "the daemon to exit");
        expect(mountedPaths().has(mnt)).toBe(false);
      } finally {
        if (processAlive(pid)) process.kill(pid, "SIGKILL");
        if (mountedPaths().has(mnt)) execFileSync("umount", ["-l", mnt]);
      }
    } finally {
      chmodSync("/dev/fuse", fuseMode);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
