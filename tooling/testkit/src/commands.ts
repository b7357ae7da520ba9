import { spawnSync } from "node:child_process";

const found = new Map<string, boolean>();

/**
 * Whether a command can be run here (it is on PATH and executes), asked once per name.
 * Tests that need Debian's erofs-utils skip without them. Only a failed spawn counts as
 * absent, not the exit status of `--help`.
 */
export function hasCommand(name: string): boolean {
  let has = found.get(name);
  if (has === undefined) {
    has = spawnSync(name, ["--help"], { stdio: "ignore" }).status !== null;
    found.set(name, has);
  }
  return has;
}
