import { ByteReader, ErofsError, corrupted, unsupported } from "@erofs-ts/format";
import { parseXattrEntry, type XattrEntry } from "./entry.js";

/** struct erofs_xattr_ibody_header: le32 name filter, u8 shared count, 7 reserved bytes. */
export const XATTR_IBODY_HEADER_SIZE = 12;

/** An inode's inline xattr body: its header, shared xattr ids and inline entries. */
export interface XattrIbody {
  /** Bloom filter of names: a set bit means "no name with this hash here". */
  readonly nameFilter: number;
  /** Shared xattr ids: entry at xattr_blkaddr * blocksize + id * 4. */
  readonly sharedIds: readonly number[];
  readonly inline: readonly InlineXattrEntry[];
}

/** An inline entry and where it starts in the xattr body (a reader that re-reads its bytes needs the place). */
export interface InlineXattrEntry extends XattrEntry {
  readonly offset: number;
}

export const EMPTY_IBODY: XattrIbody = { nameFilter: 0, sharedIds: [], inline: [] };

/**
 * The kernel's checks of a non-empty xattr body's size alone, which it makes before it
 * reads any of the body: a reader calls this first, so a body that cannot be read (past
 * the image's end) fails as the kernel fails it.
 */
export function checkXattrIbodySize(size: number, where: string): void {
  if (size === XATTR_IBODY_HEADER_SIZE) throw unsupported("xattr body of only a header", where);
  if (size < XATTR_IBODY_HEADER_SIZE) throw corrupted("bogus xattr body size", where);
}

/**
 * How many bytes from the body's start its header and shared ids take (from its first 5
 * bytes). The count may claim more than the body holds: the kernel reads those ids from
 * the bytes after the body, so a reader gives parseXattrIbody at least this many.
 */
export function xattrIbodyHeaderSize(bytes: Uint8Array): number {
  return XATTR_IBODY_HEADER_SIZE + 4 * bytes[4]!;
}

/** An xattr body's header and shared ids: what the kernel reads of it before any entry. */
export interface XattrIbodyHeader {
  readonly nameFilter: number;
  readonly sharedIds: readonly number[];
  /** Where the inline entries start in the body (past the shared ids). */
  readonly entriesStart: number;
}

/**
 * Decodes the inode's xattr body (i_xattr_icount → `bodySize` = 12 + 4 * (icount - 1)
 * bytes) from `bytes`, its first bytes and (where its shared ids overflow it) those after
 * it. As the kernel: a body of only the header is an unsupported layout, an entry running
 * past the body's end is corruption, and shared ids that overflow the body are read on
 * past it, leaving no inline entries.
 */
export function parseXattrIbody(bytes: Uint8Array, where: string, bodySize = bytes.length): XattrIbody {
  if (bodySize === 0) return EMPTY_IBODY;
  const header = parseXattrIbodyHeader(bytes, where, bodySize);
  return { nameFilter: header.nameFilter, sharedIds: header.sharedIds, inline: parseInlineXattrs(bytes, header, where, bodySize) };
}

/**
 * The header and shared ids of a non-empty xattr body (see parseXattrIbody), without its
 * inline entries: the kernel checks a lookup's name against the filter with only these
 * read, so a damaged entry fails no lookup the filter answers.
 */
export function parseXattrIbodyHeader(bytes: Uint8Array, where: string, bodySize = bytes.length): XattrIbodyHeader {
  checkXattrIbodySize(bodySize, where);
  if (bytes.length < bodySize) throw new ErofsError("EINVAL", `xattr body of ${bodySize} bytes given as ${bytes.length}`, where);
  const r = new ByteReader(bytes, `xattrs of ${where}`);
  const nameFilter = r.u32(0);
  const sharedCount = r.u8(4);
  const entriesStart = xattrIbodyHeaderSize(bytes);
  // Given the body alone, ids past it cannot be read: the body is taken as corrupt.
  if (entriesStart > bytes.length) throw corrupted(`${sharedCount} shared xattrs overflow the xattr body`, where);
  const sharedIds: number[] = [];
  for (let i = 0; i < sharedCount; i++) sharedIds.push(r.u32(XATTR_IBODY_HEADER_SIZE + 4 * i));
  return { nameFilter, sharedIds, entriesStart };
}

/** The inline entries of an xattr body whose header is `header` (see parseXattrIbody). */
export function parseInlineXattrs(bytes: Uint8Array, header: XattrIbodyHeader, where: string, bodySize = bytes.length): InlineXattrEntry[] {
  const inline: InlineXattrEntry[] = [];
  // Each entry is at least 4 bytes, so the body's size bounds the loop.
  for (let at = header.entriesStart; at < bodySize; ) {
    if (bodySize - at < 4) throw corrupted("xattr entry header past the xattr body", where);
    const { entry, size } = parseXattrEntry(bytes, at, `xattrs of ${where}`);
    if (at + size > bodySize) throw corrupted("xattr entry beyond the xattr body", where);
    inline.push({ nameIndex: entry.nameIndex, name: entry.name, value: entry.value, offset: at });
    at += size;
  }
  return inline;
}
