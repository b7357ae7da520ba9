import { lruSet } from "./lru.js";

/** A pcluster the kernel keeps: the format and the size (bytes of input) it was made with. */
export interface KeptPcluster {
  readonly format: number;
  readonly length: number;
}

/**
 * The pclusters the kernel keeps between reads, and the format and size each is kept
 * with. The kernel makes one pcluster per address, in the format and of the size of the
 * extent that maps it first, and a later extent at that address joins it and is decoded
 * in that format, from that many bytes. Most go away with their read; those whose
 * compressed pages are cached stay (see keptByKernel in compressed.ts), for the life of
 * the mount unless memory runs short. On a sound image every extent at an address has one
 * format and one size, and this changes nothing; on a damaged one a file whose index
 * leads into another file's pcluster decides how that file reads afterwards (fuzz mutant
 * 530327: a README that reads whole on a fresh kernel mount fails EOPNOTSUPP after a
 * damaged neighbour's read; real mutant 533884: a file whose i_size grew maps a 1-block
 * pcluster where another file's 10-block one starts, which then decodes from 1 block).
 *
 * Few are kept: reading all of each corpus/real/app-a image kept 29-136. Past MAX_KEPT
 * the oldest are forgotten, as the kernel's shrinker would let pclusters go.
 */
export class PclusterFormats {
  /** Per address, format + FORMATS * size: one number each. */
  readonly #kept = new Map<number, number>();

  /** The pcluster kept at `physical`, or undefined when none is. */
  get(physical: number): KeptPcluster | undefined {
    const v = this.#kept.get(physical);
    return v === undefined ? undefined : { format: v % FORMATS, length: Math.floor(v / FORMATS) };
  }

  /** Keeps a pcluster at `physical` in `format`, `length` bytes long, unless one is kept there already (that one stays). */
  keep(physical: number, format: number, length: number): void {
    if (!this.#kept.has(physical)) lruSet(this.#kept, physical, format + FORMATS * length, MAX_KEPT);
  }

  /** Keeps the pcluster at `physical` in `format`, `length` bytes long, whatever was kept there. */
  replace(physical: number, format: number, length: number): void {
    lruSet(this.#kept, physical, format + FORMATS * length, MAX_KEPT);
  }
}

/** Above every format number (the four algorithms, stored shifted and interlaced). */
const FORMATS = 16;
/** Pclusters kept at most (~28 bytes each, measured). */
const MAX_KEPT = 1 << 16;
