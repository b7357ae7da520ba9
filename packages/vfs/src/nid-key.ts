/**
 * A nid as a Map key: a number where it is exact (every nid below 2^53; on real images,
 * small integers, which V8 stores in the key's slot itself), the bigint above that. A Map
 * keyed by the bigint itself holds a 16-24 byte BigInt object per entry, and hashes it on
 * every lookup. The two kinds never collide: 5 and 5n are different keys.
 */
export function nidKey(nid: bigint): number | bigint {
  return nid <= 0x1f_ffff_ffff_ffffn ? Number(nid) : nid;
}

/** The nid a key stands for. */
export function nidOfKey(key: number | bigint): bigint {
  return typeof key === "bigint" ? key : BigInt(key);
}
