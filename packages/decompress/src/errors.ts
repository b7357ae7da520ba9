import { corrupted, type ErofsError } from "@erofs-ts/format";

/** One helper for every codec: corrupt input becomes EFSCORRUPTED naming the codec. */
export function bad(codec: string, reason: string): ErofsError {
  return corrupted(`${codec}: ${reason}`, `${codec} pcluster`);
}

const PRODUCED = Symbol.for("erofs-ts.short-stream");

/**
 * A stream that ends properly but before its output is full: still corruption, but one
 * a caller may take as far as it goes (the kernel's DEFLATE decoder does, where the end
 * falls in the output's last page). shortStreamLength tells how far that is.
 */
export function shortStream(codec: string, produced: number, wanted: number): ErofsError {
  return Object.assign(bad(codec, `stream ends after ${produced} of ${wanted} bytes`), { [PRODUCED]: produced });
}

/** The bytes a whole stream produced before it ended, if `e` is a shortStream error. */
export function shortStreamLength(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const produced = (e as Record<symbol, unknown>)[PRODUCED];
  return typeof produced === "number" ? produced : undefined;
}
