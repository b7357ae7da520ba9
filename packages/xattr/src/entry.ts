import { ByteReader } from "@erofs-ts/format";

/** struct erofs_xattr_entry: 4-byte header (name length, name index, le16 value size), then name and value. */
export const XATTR_ENTRY_HEADER_SIZE = 4;

export interface XattrEntry {
  /** e_name_index: a namespace index (1..6), or 0x80 | long-prefix id. */
  readonly nameIndex: number;
  /** The name after the namespace prefix (and after the long prefix's infix). */
  readonly name: Uint8Array;
  readonly value: Uint8Array;
}

/** Total on-disk size of an entry from its 4-byte header, padded to 4 bytes. */
export function xattrEntrySize(header: Uint8Array): number {
  const r = new ByteReader(header, "xattr entry header");
  return (XATTR_ENTRY_HEADER_SIZE + r.u8(0) + r.u16(2) + 3) & ~3;
}

/** Decodes the entry at `offset` of `bytes` (which must hold all of it). */
export function parseXattrEntry(bytes: Uint8Array, offset: number, where: string): { entry: XattrEntry; size: number } {
  const r = new ByteReader(bytes, where);
  const nameLen = r.u8(offset);
  const nameIndex = r.u8(offset + 1);
  const valueSize = r.u16(offset + 2);
  const name = r.slice(offset + XATTR_ENTRY_HEADER_SIZE, nameLen);
  const value = r.slice(offset + XATTR_ENTRY_HEADER_SIZE + nameLen, valueSize);
  return { entry: { nameIndex, name, value }, size: (XATTR_ENTRY_HEADER_SIZE + nameLen + valueSize + 3) & ~3 };
}
