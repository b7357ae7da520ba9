/**
 * composefs's header. mkcomposefs (github.com/containers/composefs), an EROFS writer of its
 * own, puts it in the image's first bytes, before the superblock at 1,024; the kernel's
 * erofs never reads them. It says which composefs format the image follows, which a user
 * of a composefs image wants to know and nothing else in the image tells.
 */
export interface ComposefsHeader {
  /** The header's own layout version (1 in composefs 1.0). */
  readonly headerVersion: number;
  /** The composefs image format, 0 or 1: what mkcomposefs's --min-version and --max-version chose. */
  readonly formatVersion: number;
  /** The flag word as stored, unknown bits included. */
  readonly flags: number;
  /** Flag bit 0: some inode holds a POSIX ACL. */
  readonly hasAcl: boolean;
}

/** The header's first word, little-endian. */
export const COMPOSEFS_MAGIC = 0xd078629a;

/** The bytes the header takes: magic, header version, flags and format version, 4 bytes each, then 16 unused. */
export const COMPOSEFS_HEADER_SIZE = 32;

/**
 * The composefs header at the start of `head` (the image's first bytes, from its
 * fsoffset), or null when the magic is not there or `head` is too short to hold it.
 */
export function parseComposefsHeader(head: Uint8Array): ComposefsHeader | null {
  if (head.length < COMPOSEFS_HEADER_SIZE) return null;
  const view = new DataView(head.buffer, head.byteOffset, COMPOSEFS_HEADER_SIZE);
  if (view.getUint32(0, true) !== COMPOSEFS_MAGIC) return null;
  const flags = view.getUint32(8, true);
  return { headerVersion: view.getUint32(4, true), formatVersion: view.getUint32(12, true), flags, hasAcl: (flags & 1) !== 0 };
}
