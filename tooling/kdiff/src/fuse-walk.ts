import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hold } from "./cleanup.js";
import { walkMounted } from "./kernel-walk.js";
import type { WalkResult } from "./walk.js";

/** This checkout's erofs-fuse (from src/ and from dist/ alike: both sit two levels below the repo). */
export const EROFS_FUSE = join(dirname(fileURLToPath(import.meta.url)), "../../../apps/fuse/bin/erofs-fuse.cjs");

/** Why an erofs-fuse mount cannot be walked here, or null. */
export function fuseUnavailable(): string | null {
  if (!existsSync("/dev/fuse")) return "no /dev/fuse";
  if (!existsSync(join(dirname(EROFS_FUSE), "../dist/main.js"))) return "apps/fuse is not built (pnpm build)";
  return null;
}

/**
 * Mounts `image` with erofs-fuse (`device` as its `-o device=`) and walks the mount as the
 * kernel's is walked: the whole stack (vfs, daemon, the kernel's FUSE and VFS) is then
 * held to the kernel's erofs. The daemon returns once the mount is live; the mount is
 * undone in a finally block (and by cleanup.ts on a signal), and the daemon, which ends
 * with its last mount, is waited for so that none outlives its seed.
 */
export function walkFuse(image: string, device: string | null): WalkResult {
  const dir = mkdtempSync(join(tmpdir(), "erofs-kdiff-fuse-"));
  const pidFile = `${dir}.pid`;
  const undoDir = hold(() => {
    rmdirSync(dir);
    rmSync(pidFile, { force: true });
  });
  try {
    const args = [EROFS_FUSE, "--pidfile", pidFile, ...(device ? ["-o", `device=${device}`] : []), image, dir];
    const started = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
    if (started.status !== 0) {
      // A start that timed out may still have mounted: nothing may stay behind.
      spawnSync("umount", [dir], { stdio: "ignore" });
      return { mountError: (started.stderr || String(started.error ?? started.signal)).trim(), entries: [] };
    }
    const pid = Number(readFileSync(pidFile, "utf8"));
    let lingered = false;
    const undoMount = hold(() => {
      spawnSync("umount", [dir], { stdio: "ignore" });
      lingered = !awaitExit(pid);
    });
    let walk: WalkResult;
    try {
      walk = walkMounted(dir);
    } finally {
      undoMount();
    }
    // A daemon that outlives its last mount is a bug of its own (it held on to memory and
    // ignored SIGTERM once: see apps/fuse's endServing): reported as a difference.
    return lingered ? { ...walk, unexpected: [`erofs-fuse (pid ${pid}) still ran 10 s after its unmount: killed`] } : walk;
  } finally {
    undoDir();
  }
}

/** Waits up to 10 s for a process to end, else kills it; whether it ended by itself. */
function awaitExit(pid: number): boolean {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // A blocking wait without a child process per tenth of a second.
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100 && alive(); i++) Atomics.wait(tick, 0, 0, 100);
  if (!alive()) return true;
  process.kill(pid, "SIGKILL");
  return false;
}
