/** Hand-built xattr bytes for the tests. */

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | null): string | null => (b ? new TextDecoder().decode(b) : null);

/** struct erofs_xattr_entry: u8 name length, u8 name index, le16 value size, name, value, zero padding to 4. */
export function entryBytes(nameIndex: number, name: Uint8Array | string, value: Uint8Array | string): Uint8Array {
  const n = typeof name === "string" ? enc(name) : name;
  const v = typeof value === "string" ? enc(value) : value;
  const size = (4 + n.length + v.length + 3) & ~3;
  const b = new Uint8Array(size);
  b[0] = n.length;
  b[1] = nameIndex;
  b[2] = v.length & 0xff;
  b[3] = v.length >>> 8;
  b.set(n, 4);
  b.set(v, 4 + n.length);
  return b;
}

/** An inode's xattr body: erofs_xattr_ibody_header (le32 filter, u8 shared count, 7 reserved), shared ids, entries. */
export function ibodyBytes(filter: number, shared: readonly number[], entries: readonly Uint8Array[]): Uint8Array {
  const size = 12 + 4 * shared.length + entries.reduce((a, e) => a + e.length, 0);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, filter >>> 0, true);
  b[4] = shared.length;
  shared.forEach((id, i) => dv.setUint32(12 + 4 * i, id, true));
  let at = 12 + 4 * shared.length;
  for (const e of entries) {
    b.set(e, at);
    at += e.length;
  }
  return b;
}
