// Synchronous host calls, as the extractor makes them (why: at the top of extractor.ts).
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { systemErrorReason } from "@erofs-ts/format";

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
export function makeDestination(dest: string): void {
  const missing: string[] = [];
  for (let dir = dest; ; dir = dirname(dir)) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(dir);
    } catch (e) {
      // Only ENOENT is "missing" (statSync's throwIfNoEntry would also take ENOTDIR for it
      // on Node 24, and blame the parent: `plain-file/x` must fail naming x).
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new DestinationError(dir, systemErrorReason(e), { cause: e });
    }
    if (st) {
      if (!st.isDirectory()) throw new DestinationError(dir, "not a directory");
      break;
    }
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (e) {
      // Made meanwhile by someone else: as good as made here.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new DestinationError(dir, `cannot create the directory: ${systemErrorReason(e)}`, { cause: e });
    }
  }
}
