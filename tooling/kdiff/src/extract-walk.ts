import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { walkMounted } from "./kernel-walk.js";
import type { WalkResult } from "./walk.js";

/** This checkout's erofs-cli (from src/ and from dist/ alike: both sit two levels below the repo). */
export const EROFS_CLI = join(dirname(fileURLToPath(import.meta.url)), "../../../apps/cli/dist/main.js");

/** The host tools erofs-cli extract runs for what Node cannot do (apps/cli/README.md). */
const EXTRACT_TOOLS = ["/usr/bin/setfattr", "/usr/bin/touch", "/usr/bin/mknod"];

/** Why an extraction cannot be walked here, or null. */
export function extractUnavailable(): string | null {
  if (!existsSync(EROFS_CLI)) return "apps/cli is not built (pnpm build)";
  const missing = EXTRACT_TOOLS.find((t) => !existsSync(t));
  return missing ? `no ${missing} (erofs-cli extract needs it; setfattr is in package attr)` : null;
}

/**
 * Extracts `image` with erofs-cli into `dest` (made afresh) and walks the tree there with
 * the kernel walk's own code, so that the extraction is held to the kernel's mount
 * (extract-view.ts says which fields a host tree can match). The sweep runs as root, so
 * owners, device nodes and trusted.* xattrs are restored. stderr and the exit status go
 * into the walk, to be held to the kernel's sockets (the one warning a faithful
 * extraction prints) and failures (one line each, exit status 1); a failure that names
 * the image itself (the CLI's convention for an image it cannot read) is its mount error.
 */
export function walkExtract(image: string, device: string | null, dest: string): WalkResult {
  rmSync(dest, { recursive: true, force: true });
  const args = [EROFS_CLI, "extract", image, dest, ...(device ? ["--device", device] : [])];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 26 });
  const stderr = r.stderr.split("\n").filter(Boolean);
  if (r.status === 1 && stderr.length === 1 && stderr[0]!.startsWith(`erofs-cli: ${image}: `)) return { mountError: stderr[0]!, entries: [] };
  const walk: WalkResult = { ...(existsSync(dest) ? walkMounted(dest) : { entries: [] }), stderr };
  if (r.status === null) walk.unexpected = [`erofs-cli extract killed by ${r.signal ?? r.error?.message}`];
  else walk.exitStatus = r.status;
  return walk;
}
