import { execFileSync } from "node:child_process";

/** One extent of a compressed file: byte ranges [from, to) in the file and in the image. */
export interface DumpedExtent {
  readonly logical: readonly [number, number];
  readonly physical: readonly [number, number];
}

/**
 * A file's extents as Debian's `dump.erofs -e` lists them (an independent reader of the
 * image), to find the pclusters a test corrupts. Needs dump.erofs on PATH.
 */
export function dumpExtents(image: string, path: string): DumpedExtent[] {
  const text = execFileSync("dump.erofs", ["-e", `--path=${path}`, image], { encoding: "utf8" });
  const out: DumpedExtent[] = [];
  // "  3:  12345..  18000 |  5655 :  8192..  12288 |  4096"
  for (const m of text.matchAll(/^\s*\d+:\s*(\d+)\.\.\s*(\d+)\s*\|\s*\d+\s*:\s*(\d+)\.\.\s*(\d+)\s*\|/gm)) {
    out.push({ logical: [Number(m[1]), Number(m[2])], physical: [Number(m[3]), Number(m[4])] });
  }
  return out;
}
