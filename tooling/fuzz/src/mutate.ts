import { EROFS_SUPER_OFFSET, superblockChecksum } from "@erofs-ts/format";
import { RealUint8Array } from "./alloc-guard.js";
import type { Field, FieldKind, FieldMap, Region } from "./field-map.js";
import type { Rng } from "./prng.js";

/** A mutated image and how to mount it. */
export interface Mutant {
  readonly bytes: Uint8Array;
  /** Extra devices: the original paths, or mutated bytes. */
  readonly devices: ReadonlyArray<string | Uint8Array>;
  readonly fsoffset: number;
  /** One line per mutation applied, in order: what the replay prints. */
  readonly log: readonly string[];
}

export interface MutationInput {
  readonly image: Uint8Array;
  readonly devices: readonly string[];
  readonly fsoffset: number;
  readonly map: FieldMap;
  /** Loads an extra device's bytes (only device mutations need them). */
  readonly loadDevice: (path: string) => Uint8Array;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/**
 * Applies 1..5 mutations chosen by `rng`. Most aim at a field of a known structure with a
 * value chosen to hit an edge (zero, all ones, off by one, a huge size, an ancestor's nid
 * for a dirent); the rest are blind flips, byte sets, truncations, splices of one
 * structure over another, and changes to how the image is mounted (fsoffset, devices).
 */
export function mutate(rng: Rng, input: MutationInput): Mutant {
  const log: string[] = [];
  let bytes: Uint8Array = new RealUint8Array(input.image.length);
  bytes.set(input.image);
  let fsoffset = input.fsoffset;
  const devices: Array<string | Uint8Array> = [...input.devices];
  const count = rng.weighted<number>([[60, 1], [25, 2], [10, 3], [5, 5]]);
  for (let i = 0; i < count; i++) {
    const op = rng.weighted<string>([
      [55, "field"],
      [12, "bitflip"],
      [8, "byteset"],
      [7, "truncate"],
      [8, "splice"],
      [5, "name"],
      [3, "fsoffset"],
      [2, "device"],
    ]);
    switch (op) {
      case "field":
        fieldMutation(rng, bytes, input.map, log);
        break;
      case "bitflip":
        bitflips(rng, bytes, input.map, log);
        break;
      case "byteset":
        byteSets(rng, bytes, input.map, log);
        break;
      case "truncate":
        bytes = truncate(rng, bytes, input.map, fsoffset, log);
        break;
      case "splice":
        splice(rng, bytes, input.map, log);
        break;
      case "name":
        nameMutation(rng, bytes, input.map, log);
        break;
      case "fsoffset":
        fsoffset = fsoffsetMutation(rng, bytes.length, fsoffset, input.map.blockSize, log);
        break;
      case "device":
        deviceMutation(rng, devices, input, log);
        break;
    }
  }
  // Without a valid crc32c every superblock mutation would stop at mount; keep it stale
  // sometimes, so the checksum check itself is exercised.
  if (input.map.checksummed) {
    if (rng.chance(0.92)) {
      try {
        const fs = bytes.subarray(fsoffset);
        const view = new DataView(fs.buffer, fs.byteOffset, fs.byteLength);
        view.setUint32(EROFS_SUPER_OFFSET + 4, superblockChecksum(fs, input.map.blockSize), true);
        log.push("superblock checksum redone");
      } catch {
        log.push("superblock checksum not redone (image too short)");
      }
    } else log.push("superblock checksum left stale");
  }
  return { bytes, devices, fsoffset, log };
}

/** Fields grouped by kind, so rare structures (the device table) are hit as often as common ones. */
const byKindCache = new WeakMap<FieldMap, Map<FieldKind, Field[]>>();
function fieldsByKind(map: FieldMap): Map<FieldKind, Field[]> {
  let m = byKindCache.get(map);
  if (!m) {
    m = new Map();
    for (const f of map.fields) {
      let list = m.get(f.kind);
      if (!list) m.set(f.kind, (list = []));
      list.push(f);
    }
    byKindCache.set(map, m);
  }
  return m;
}

/**
 * Kinds whose values drive loops and allocations (sizes, addresses, index walks, dirent
 * links) are picked more often than fields that are only displayed (times, owners).
 */
const KIND_WEIGHT: Partial<Record<FieldKind, number>> = {
  size: 3,
  blkaddr: 2,
  chunk: 2,
  "dirent-nid": 2,
  "dirent-nameoff": 2,
  "zmap-header": 2,
  lcluster: 2,
  "compact-index": 2,
  extent: 2,
};

function readField(bytes: Uint8Array, f: Field): bigint {
  let v = 0n;
  for (let i = f.width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[f.at + i] ?? 0);
  return v;
}

function writeField(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  let v = value;
  for (let i = 0; i < width; i++) {
    if (at + i < bytes.length) bytes[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function fieldMutation(rng: Rng, bytes: Uint8Array, map: FieldMap, log: string[]): void {
  const groups = fieldsByKind(map);
  const kinds = [...groups.keys()];
  if (!kinds.length) return bitflips(rng, bytes, map, log);
  const kind = rng.weighted(kinds.map((k) => [KIND_WEIGHT[k] ?? 1, k] as const));
  const f = rng.pick(groups.get(kind)!);
  if (f.at + f.width > bytes.length) return;
  const old = readField(bytes, f);
  const value = interestingValue(rng, f, old, map);
  writeField(bytes, f.at, f.width, value);
  log.push(`field ${f.kind} ${f.note} @${hex(f.at)} w${f.width}: ${hex(old)} -> ${hex(value)}`);
}

function interestingValue(rng: Rng, f: Field, old: bigint, map: FieldMap): bigint {
  const bits = BigInt(f.width * 8);
  const max = (1n << bits) - 1n;
  const clamp = (v: bigint) => ((v % (max + 1n)) + max + 1n) % (max + 1n);
  if (f.kind === "dirent-nid" && map.dirNids.length && rng.chance(0.5)) {
    // An ancestor's (or its own directory's) nid: a cycle the walker must survive.
    return rng.pick(map.dirNids.slice(0, 8));
  }
  if (f.kind === "size" && rng.chance(0.4)) {
    const big = [old + 1n, old + BigInt(map.blockSize), old * 16n, 0xffff_ffffn, 1n << 31n, 1n << 40n, 1n << 52n, max];
    return clamp(rng.pick(big));
  }
  if (f.kind === "lcluster" && f.width === 2 && f.note.endsWith("di_advise") && rng.chance(0.5)) {
    return (old & ~3n) | BigInt(rng.below(4)); // another lcluster type
  }
  const choice = rng.below(12);
  switch (choice) {
    case 0: return 0n;
    case 1: return 1n;
    case 2: return max;
    case 3: return max - 1n;
    case 4: return 1n << (bits - 1n);
    case 5: return clamp(old + BigInt(rng.range(1, 16)));
    case 6: return clamp(old - BigInt(rng.range(1, 16)));
    case 7: return old ^ (1n << BigInt(rng.below(Number(bits))));
    case 8: return clamp(old * 2n);
    case 9: return clamp(old << 8n);
    case 10: return BigInt(rng.below(256));
    default: {
      let v = 0n;
      for (let i = 0; i < f.width; i++) v = (v << 8n) | BigInt(rng.below(256));
      return v;
    }
  }
}

/** A region to aim at, or the whole image. */
function place(rng: Rng, bytes: Uint8Array, map: FieldMap): { at: number; length: number; note: string } {
  if (map.regions.length && rng.chance(0.6)) {
    const r: Region = rng.pick(map.regions);
    const length = Math.max(0, Math.min(r.length, bytes.length - r.at));
    if (length > 0) return { at: r.at, length, note: r.note };
  }
  if (rng.chance(0.3)) {
    // The first blocks hold the superblock, inodes and small directories.
    return { at: 0, length: Math.min(bytes.length, map.blockSize * 4), note: "first blocks" };
  }
  return { at: 0, length: bytes.length, note: "anywhere" };
}

function bitflips(rng: Rng, bytes: Uint8Array, map: FieldMap, log: string[]): void {
  const p = place(rng, bytes, map);
  if (!p.length) return;
  const n = rng.range(1, 8);
  const at: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = p.at + rng.below(p.length);
    const bit = rng.below(8);
    bytes[o]! ^= 1 << bit;
    at.push(`${hex(o)}.${bit}`);
  }
  log.push(`bitflip ${n} in ${p.note}: ${at.join(" ")}`);
}

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x2f, 0x2e, 0xfe, 0x10, 0x20];

function byteSets(rng: Rng, bytes: Uint8Array, map: FieldMap, log: string[]): void {
  const p = place(rng, bytes, map);
  if (!p.length) return;
  const n = rng.range(1, 4);
  const at: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = p.at + rng.below(p.length);
    const v = rng.chance(0.7) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
    bytes[o] = v;
    at.push(`${hex(o)}=${hex(v)}`);
  }
  log.push(`byteset ${n} in ${p.note}: ${at.join(" ")}`);
}

function truncate(rng: Rng, bytes: Uint8Array, map: FieldMap, fsoffset: number, log: string[]): Uint8Array {
  const size = bytes.length;
  const bs = map.blockSize;
  let len: number;
  const how = rng.below(4);
  if (how === 0) len = Math.max(0, size - rng.range(1, bs * 4));
  else if (how === 1) len = Math.floor(rng.below(size) / bs) * bs;
  else if (how === 2) len = fsoffset + rng.below(Math.min(size - fsoffset, 4 * bs) + 1);
  else len = rng.below(size);
  log.push(`truncate ${size} -> ${len}`);
  return bytes.subarray(0, len);
}

/** Copies one structure over another: blocks that parse but contradict their surroundings. */
function splice(rng: Rng, bytes: Uint8Array, map: FieldMap, log: string[]): void {
  if (map.regions.length < 2) return bitflips(rng, bytes, map, log);
  const from = rng.pick(map.regions);
  const to = rng.chance(0.7) ? rng.pick(map.regions) : { at: rng.below(bytes.length), length: from.length, note: "random offset" };
  const len = Math.min(from.length, to.length, bytes.length - to.at, bytes.length - from.at, 64 << 10);
  if (len <= 0) return;
  bytes.copyWithin(to.at, from.at, from.at + len);
  log.push(`splice ${len} bytes from ${from.note} @${hex(from.at)} over ${to.note} @${hex(to.at)}`);
}

/** Rewrites dirent name bytes into what extraction and lookup must refuse or survive. */
function nameMutation(rng: Rng, bytes: Uint8Array, map: FieldMap, log: string[]): void {
  const names = map.regions.filter((r) => r.kind === "names");
  if (!names.length) return byteSets(rng, bytes, map, log);
  const r = rng.pick(names);
  const o = r.at + rng.below(Math.max(1, r.length));
  const patterns: ReadonlyArray<readonly number[]> = [[0x2f], [0x2e], [0x2e, 0x2e], [0x00], [0x2e, 0x2e, 0x2f], [0x2f, 0x2f], [0xff]];
  const pat = rng.pick(patterns);
  for (let i = 0; i < pat.length && o + i < bytes.length && o + i < r.at + r.length; i++) bytes[o + i] = pat[i]!;
  log.push(`name bytes @${hex(o)} in ${r.note} = ${pat.map((b) => hex(b)).join(",")}`);
}

function fsoffsetMutation(rng: Rng, size: number, fsoffset: number, bs: number, log: string[]): number {
  const choices = [0, fsoffset + 512, fsoffset - 512, fsoffset + bs, fsoffset + 1, size, size + 1, Math.max(0, size - 1024), rng.below(size + 1)];
  const next = Math.max(0, rng.pick(choices));
  log.push(`fsoffset ${fsoffset} -> ${next}`);
  return next;
}

function deviceMutation(rng: Rng, devices: Array<string | Uint8Array>, input: MutationInput, log: string[]): void {
  if (!devices.length) {
    log.push("device: none to mutate (mounted with one bogus extra device)");
    devices.push(new RealUint8Array(rng.chance(0.5) ? 0 : 4096));
    return;
  }
  const i = rng.below(devices.length);
  const d = devices[i]!;
  const orig = typeof d === "string" ? input.loadDevice(d) : d;
  const how = rng.below(3);
  if (how === 0) {
    const len = rng.below(orig.length);
    devices[i] = orig.subarray(0, len);
    log.push(`device ${i} truncated ${orig.length} -> ${len}`);
  } else if (how === 1) {
    const copy = new RealUint8Array(orig.length);
    copy.set(orig);
    const n = rng.range(1, 16);
    for (let k = 0; k < n && copy.length; k++) copy[rng.below(copy.length)]! ^= 1 << rng.below(8);
    devices[i] = copy;
    log.push(`device ${i}: ${n} bit flips`);
  } else {
    devices.splice(i, 1);
    log.push(`device ${i} left out`);
  }
}
