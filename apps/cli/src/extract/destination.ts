import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { hostErrorReason } from "../context.js";

/** Why DEST cannot be made: `where` names the path that failed, not the image. */
export class DestinationError extends Error {
  override name = "DestinationError";
  constructor(
    readonly where: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Makes the extraction directory `dest` (absolute) and its missing parents, one level at
 * a time. Not mkdir's recursive mode: in Node 20 it never returns under a directory that
 * exists but answers ENOENT for a new entry (/proc, measured: `extract IMAGE /proc/x`
 * hung), because it finds the parent, tries the child again, and so on.
 */
export async function makeDestination(dest: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = dest; ; dir = dirname(dir)) {
    const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return null;
      throw new DestinationError(dir, hostErrorReason(e), { cause: e });
    });
    if (st) {
      if (!st.isDirectory()) throw new DestinationError(dir, "not a directory");
      break;
    }
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      // Made meanwhile by someone else: as good as made here.
      if (e.code !== "EEXIST") throw new DestinationError(dir, `cannot create the directory: ${hostErrorReason(e)}`, { cause: e });
    });
  }
}
