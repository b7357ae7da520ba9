import { copyBytes } from "./bytes.js";
import { ByteReader } from "./reader.js";
import { joinWords } from "./words.js";

/** struct erofs_deviceslot: 128 bytes in the device table (devt_slotoff * 128). */
export const DEVICE_SLOT_SIZE = 128;

export interface DeviceSlot {
  /** Digest or name tag of the extra device (e.g. a blob's sha256), NUL-trimmed. */
  readonly tag: Uint8Array;
  readonly blocks: number;
  /** Start block of this device in the unified address space (0: addressed by id only). */
  readonly uniaddr: number;
}

export function parseDeviceSlot(bytes: Uint8Array, is48bit: boolean, index: number): DeviceSlot {
  const r = new ByteReader(bytes, `device slot ${index}`);
  r.check(0, DEVICE_SLOT_SIZE);
  const tag = copyBytes(bytes, 0, 64);
  const nul = tag.indexOf(0);
  const hiBlocks = is48bit ? r.u16(72) : 0;
  const hiUniaddr = is48bit ? r.u16(74) : 0;
  return {
    tag: nul < 0 ? tag : tag.subarray(0, nul),
    blocks: joinWords(r.u32(64), hiBlocks),
    uniaddr: joinWords(r.u32(68), hiUniaddr),
  };
}

/** The kernel masks chunk device ids with the next power of two above the device count, minus one. */
export function deviceIdMask(extraDevices: number): number {
  let p = 1;
  while (p < extraDevices + 1) p <<= 1;
  return p - 1;
}
