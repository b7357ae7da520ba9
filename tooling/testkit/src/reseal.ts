import { COMPAT, EROFS_SUPER_OFFSET, superblockChecksum } from "@erofs-ts/format";

/** Fields of struct erofs_super_block, from its start. */
const CHECKSUM_FIELD = 0x04;
const FEATURE_COMPAT_FIELD = 0x08;
const BLKSZBITS_FIELD = 0x0c;

/** The block size an image's superblock states. */
export function imageBlockSize(image: Buffer): number {
  return 2 ** image[EROFS_SUPER_OFFSET + BLKSZBITS_FIELD]!;
}

/**
 * Redoes the superblock checksum of a patched image, in place, when it has one (sb_csum).
 * The checksum covers the rest of the superblock's block, which may hold inodes and
 * directory entries too: a test that patches those, not the superblock, wants the
 * readers to find them wrong, not the checksum.
 */
export function resealSuperblock(image: Buffer): Buffer {
  if (image.readUInt32LE(EROFS_SUPER_OFFSET + FEATURE_COMPAT_FIELD) & COMPAT.SB_CHKSUM) {
    image.writeUInt32LE(superblockChecksum(image, imageBlockSize(image)), EROFS_SUPER_OFFSET + CHECKSUM_FIELD);
  }
  return image;
}
