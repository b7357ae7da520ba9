import { lruSet } from "./lru.js";

/**
 * The pclusters the kernel keeps between reads, and the format each is kept in. The
 * kernel makes one pcluster per address, in the format of the extent that maps it first,
 * and a later extent at that address joins it and is decoded in that format. Most go
 * away with their read; those whose compressed pages are cached stay (see keptByKernel
 * in compressed.ts), for the life of the mount unless memory runs short. On a sound
 * image every extent at an address has one format and this changes nothing; on a damaged
 * one a file whose index leads into another file's pcluster decides how that file reads
 * afterwards (fuzz mutant 530327: a README that reads whole on a fresh kernel mount fails
 * EOPNOTSUPP after a damaged neighbour's read).
 *
 * Few are kept: reading all of each corpus/real/app-a image kept 29-136. Past MAX_KEPT
 * the oldest are forgotten, as the kernel's shrinker would let pclusters go.
 */
export class PclusterFormats {
  readonly #kept = new Map<number, number>();

  /** The format of the pcluster kept at `physical`, or undefined when none is. */
  get(physical: number): number | undefined {
    return this.#kept.get(physical);
  }

  /** Keeps a pcluster at `physical` in `format`, unless one is kept there already (that one stays). */
  keep(physical: number, format: number): void {
    if (!this.#kept.has(physical)) lruSet(this.#kept, physical, format, MAX_KEPT);
  }

  /** Keeps the pcluster at `physical` in `format`, whatever was kept there. */
  replace(physical: number, format: number): void {
    lruSet(this.#kept, physical, format, MAX_KEPT);
  }
}

/** Pclusters kept at most (~28 bytes each, measured). */
const MAX_KEPT = 1 << 16;
