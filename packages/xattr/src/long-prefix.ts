import { ByteReader, EROFS_NAME_LEN, corrupted } from "@erofs-ts/format";

/** struct erofs_xattr_long_prefix: u8 base_index, then the infix bytes (after a le16 record length). */
export interface LongPrefix {
  /** The namespace index the prefix extends (0: no namespace, as ishare fingerprints use). */
  readonly baseIndex: number;
  readonly infix: Uint8Array;
}

/** Decodes one record's payload (what follows its le16 length). */
export function parseLongPrefix(payload: Uint8Array, index: number): LongPrefix {
  if (payload.length < 1 || payload.length > EROFS_NAME_LEN + 1) {
    throw corrupted(`long xattr prefix ${index} has length ${payload.length}`, "xattr prefixes");
  }
  const r = new ByteReader(payload, "xattr prefix");
  return { baseIndex: r.u8(0), infix: payload.slice(1) };
}
