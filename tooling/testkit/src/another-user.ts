import { spawnSync } from "node:child_process";

/** setpriv's arguments that run a command as nobody (uid and gid 65534, no groups). */
export const AS_NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/**
 * Whether a command run as nobody can reach `path` (search every directory on the way):
 * false without root or setpriv, or where the path runs through a private directory
 * (a TMPDIR under /root), so that tests of other users' views skip instead of failing.
 */
export function nobodyReaches(path: string): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("setpriv", [...AS_NOBODY, "test", "-x", path]).status === 0;
}
