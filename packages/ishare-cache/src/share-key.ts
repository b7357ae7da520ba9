/**
 * The identity of a shared inode: fingerprint bytes, sharing domain and file size.
 *
 * The kernel's patch concatenates fingerprint ‖ domain_id, so ("ab", "c") and ("a", "bc")
 * meet; here each part is length-prefixed, which makes the encoding injective. The size
 * is part of the key too (as mainline does), so a forged fingerprint cannot make files of
 * different lengths share pages.
 */
export interface ShareKey {
  readonly fingerprint: Uint8Array;
  /** The mount's domain_id (a secret: never printed), empty when none was given. */
  readonly domain: Uint8Array;
  readonly size: number;
}

export function encodeShareKey(k: ShareKey): Uint8Array {
  const out = new Uint8Array(4 + k.fingerprint.length + 4 + k.domain.length + 8);
  const dv = new DataView(out.buffer);
  let at = 0;
  dv.setUint32(at, k.fingerprint.length, true);
  out.set(k.fingerprint, (at += 4));
  at += k.fingerprint.length;
  dv.setUint32(at, k.domain.length, true);
  out.set(k.domain, (at += 4));
  at += k.domain.length;
  dv.setBigUint64(at, BigInt(k.size), true);
  return out;
}
