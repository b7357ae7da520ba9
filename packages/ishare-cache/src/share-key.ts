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
  const fp = k.fingerprint.length;
  const dom = k.domain.length;
  const out = new Uint8Array(4 + fp + 4 + dom + 8);
  // Little-endian fields written by hand: this runs for every shared file at iget, and a
  // DataView and a BigInt for the size were most of its garbage.
  putU32(out, 0, fp);
  out.set(k.fingerprint, 4);
  putU32(out, 4 + fp, dom);
  out.set(k.domain, 8 + fp);
  putU32(out, 8 + fp + dom, k.size % 0x1_0000_0000);
  putU32(out, 12 + fp + dom, Math.floor(k.size / 0x1_0000_0000));
  return out;
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = (v >>> 24) & 0xff;
}
