import { corrupted, type ErofsError } from "@erofs-ts/format";

/** One helper for every codec: corrupt input becomes EFSCORRUPTED naming the codec. */
export function bad(codec: string, reason: string): ErofsError {
  return corrupted(`${codec}: ${reason}`, `${codec} pcluster`);
}
