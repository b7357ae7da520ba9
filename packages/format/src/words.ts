/**
 * Numbers built from on-disk words, kept small integers wherever they fit.
 *
 * V8 gives an object field the representation of the first values stored in it. A value
 * computed as `hi * 2 ** 32 + lo`, or from `2 ** bits`, is a floating-point number even
 * when it is a small integer. A field that has held small integers and then receives
 * one (an inode's compressed block count: 0 in a plain image's inodes, then computed so
 * in a compressed image's) cannot change representation in place: V8 replaces the
 * objects' hidden class and discards every function compiled against the old one.
 * Measured in one process reading app-a-plain, app-a-lz4 and app-a.erofs in turn: V8
 * replaced the classes of inodes, extents and readahead windows 13 times (`--trace-
 * generalization`), with "wrong map" bailouts in ten inode functions at the first lz4
 * read and in twenty extent functions at the first lz4hc one; with these helpers and
 * parseInode's block address (inode.ts), once (the superblock's checksum), and 18 fewer
 * bailouts in all. In-process reads moved within this VM's noise. A fresh erofs-fuse
 * daemon's first walk, which compiles while it reads and meets inline and compressed
 * files in one image, gained most (interleaved runs, medians, MB/s): app-a-lz4 134 → 165
 * and 140 → 154, app-a-plain 267 → 296, app-a-zstd 90 → 97, app-a.erofs 124 either way.
 * A plain `lo` and integer operators (`<<`) give small integers.
 */

/** lo + hi × 2^32, for a low word lo (0 ≤ lo < 2^32): lo itself when hi is 0. */
export function joinWords(lo: number, hi: number): number {
  return hi === 0 ? lo : hi * 0x1_0000_0000 + lo;
}

/** 2^bits, for bits in [0, 53]: a small integer when bits ≤ 30. */
export function pow2(bits: number): number {
  return bits <= 30 ? 1 << bits : 2 ** bits;
}
