import { describe, expect, it } from "vitest";
import { ADVISE, COMPRESSION, DATALAYOUT, ErofsError, loadZInfo, mapCompressed, mapCompressedInMemory, parseInode, parseSuperblock, readsMoreAt, type Inode } from "./index.js";
import { buildSuperblock, compactInode } from "./test-image.test-helper.js";

/**
 * Compression maps from hostile images: the walks over lcluster indexes and encoded
 * extents must stay bounded whatever i_size and the indexes say. The maps are synthesized
 * by the read callback (any offset answers), so only the code's own bounds can stop a walk.
 */
const sb = parseSuperblock(buildSuperblock({}));
const PAYLOAD = 4096 + 32;
const HEADER = Math.ceil(PAYLOAD / 8) * 8;

function inode(datalayout: number, size: number): Inode {
  // parseInode reads i_size as 32 bits from a compact inode; the test widens it after.
  return { ...parseInode(compactInode({ ifmt: datalayout << 1, mode: 0o100644 }), sb, 128n, PAYLOAD - 32), size };
}

type Read = { offset: number; length: number };

/** A metadata reader answering the map header (its advise, and HEAD1's algorithm) and full lcluster indexes from `record(lcn)`. */
function fullIndexes(advise: number, record: (lcn: number) => { type: number; clusterofs?: number; blkaddr?: number; delta0?: number; delta1?: number }, algorithm = 0) {
  const reads: Read[] = [];
  const read = async (offset: number, length: number) => {
    reads.push({ offset, length });
    const out = new Uint8Array(length);
    const dv = new DataView(out.buffer);
    for (let o = offset; o < offset + length; o++) {
      if (o >= HEADER && o < HEADER + 8) {
        const h = new Uint8Array(8);
        new DataView(h.buffer).setUint16(4, advise, true);
        h[6] = algorithm;
        out[o - offset] = h[o - HEADER]!;
      }
    }
    const first = Math.max(0, Math.floor((offset - HEADER - 16) / 8));
    for (let lcn = first; HEADER + 16 + lcn * 8 < offset + length; lcn++) {
      const at = HEADER + 16 + lcn * 8 - offset;
      if (at < 0 || at + 8 > length) continue;
      const r = record(lcn);
      dv.setUint16(at, r.type, true);
      if (r.type === 2) {
        dv.setUint16(at + 4, r.delta0 ?? 1, true);
        dv.setUint16(at + 6, r.delta1 ?? 1, true);
      } else {
        dv.setUint16(at + 2, r.clusterofs ?? 0, true);
        dv.setUint32(at + 4, r.blkaddr ?? 5, true);
      }
    }
    return out;
  };
  return { read, reads };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return ErofsError.isInstance(e) ? e.code : `untyped: ${String(e)}`;
  }
  return "no error";
}

describe("compressed maps stay bounded on hostile indexes", () => {
  it("the end of an extent is not looked for past 12 MiB, however large i_size is: the read gets the kernel's map, to the end of its lcluster", async () => {
    // lcluster 0 is a head, every later one a NONHEAD one step long: with i_size 2^40 an
    // unbounded scan would load 2^28 indexes.
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 2 ** 40);
    const { read, reads } = fullIndexes(0, (lcn) => (lcn === 0 ? { type: 1 } : { type: 2, delta0: 1, delta1: 1 }));
    const z = await loadZInfo(ino, sb, read);
    expect(await mapCompressed(ino, sb, z, 0, read)).toMatchObject({ logical: 0, length: 4096, kind: "encoded", fullMapped: false });
    expect(reads.length).toBeLessThan(3200);
    // Further in, the map reaches back to the head, a prefix of its pcluster.
    expect(await mapCompressed(ino, sb, z, 5 * 4096 + 7, read)).toMatchObject({ logical: 0, length: 6 * 4096, fullMapped: false });
  });

  it("a head between an extent's head and the byte looked up (a damaged index): mapped to the end of that byte's lcluster", async () => {
    // lcluster 5 reaches back to lcluster 0 (delta0 5), but lcluster 3 claims to be a head:
    // the walk on from lcluster 0 ends there, before the byte. The kernel maps only
    // [head, end of lcluster 5) for it.
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4096 * 10);
    const { read } = fullIndexes(0, (lcn) => (lcn === 0 || lcn === 3 ? { type: 1 } : { type: 2, delta0: lcn, delta1: 1 }));
    const z = await loadZInfo(ino, sb, read);
    expect(await mapCompressed(ino, sb, z, 5 * 4096, read)).toMatchObject({ logical: 0, length: 6 * 4096, fullMapped: false });
    // Before that head, the walk on decides, as for any extent.
    expect(await mapCompressed(ino, sb, z, 4096, read)).toMatchObject({ logical: 0, length: 3 * 4096, fullMapped: false });
  });

  it("a lookback through NONHEAD lclusters stops after the longest possible extent", async () => {
    // Every lcluster says "my head is one back": from lcluster 10^6 that is 10^6 loads
    // unless the walk knows no extent spans more than 12 MiB.
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 2 ** 40);
    const { read, reads } = fullIndexes(0, () => ({ type: 2, delta0: 1, delta1: 1 }));
    const z = await loadZInfo(ino, sb, read);
    expect(await codeOf(mapCompressed(ino, sb, z, 1_000_000 * 4096, read))).toBe("EFSCORRUPTED");
    expect(reads.length).toBeLessThan(3200);
  });

  it("a real head within reach is still found (the bounds cut nothing valid)", async () => {
    // Head at lcluster 0, 3000 NONHEADs (12 MB at 4 KiB lclusters), next head at 3001.
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4096 * 4000);
    const { read } = fullIndexes(0, (lcn) => (lcn === 0 || lcn === 3001 ? { type: 1, blkaddr: 7 } : { type: 2, delta0: 1, delta1: 3001 - lcn }));
    const z = await loadZInfo(ino, sb, read);
    const ext = await mapCompressed(ino, sb, z, 2999 * 4096, read);
    expect(ext).toMatchObject({ logical: 0, length: 3001 * 4096, kind: "encoded", physical: 7 * 4096 });
  });

  it("4-byte encoded extents are summed a batch of records per read, never one read sized by the offset", async () => {
    const count = 5000;
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4096 * count);
    const { read, reads } = fourByteExtents(count, () => 4096);
    const z = await loadZInfo(ino, sb, read);
    // mkfs writes no count with 4- and 8-byte records: the header holds the lcluster size.
    expect(z).toMatchObject({ encodedExtents: true, extents: 0, lclusterBits: 12 });
    reads.length = 0;
    const ext = await mapCompressed(ino, sb, z, (count - 1) * 4096 + 10, read);
    expect(ext).toMatchObject({ logical: (count - 1) * 4096, length: 4096, kind: "encoded", physical: 1000 + (count - 1) * 4096, physicalLength: 4096 });
    expect(Math.max(...reads.map((r) => r.length))).toBeLessThanOrEqual(1024 * 4);
    expect(reads.length).toBeLessThanOrEqual(Math.ceil(count / 1024) + 2);
  });

  it("4-byte encoded extents start where the lengths before them end, in any order of mapping, without rescanning", async () => {
    const count = 3000;
    const plen = (i: number) => 700 + ((i * 37) % 3300);
    const starts = [1000];
    for (let i = 0; i < count; i++) starts.push(starts[i]! + plen(i));
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4096 * count - 5);
    const { read, reads } = fourByteExtents(count, plen);
    const z = await loadZInfo(ino, sb, read);
    const check = async (i: number) => {
      const ext = await mapCompressed(ino, sb, z, i * 4096 + (i % 4096), read);
      expect(ext, `extent ${i}`).toMatchObject({ logical: i * 4096, kind: "encoded", physical: starts[i], physicalLength: plen(i) });
    };
    // Out of order first (each batch boundary reached before its predecessors are known)...
    for (const i of [2999, 17, 1024, 1023, 2048, 0, 1500, 2047, 2999]) await check(i);
    // ...then every extent in order: the kept sums bound what each mapping reads.
    reads.length = 0;
    for (let i = 0; i < count; i++) await check(i);
    const bytesRead = reads.reduce((sum, r) => sum + r.length, 0);
    // At most the 64 records since the last kept start per mapping (4 bytes each).
    expect(bytesRead).toBeLessThanOrEqual(count * 64 * 4);
  });

  it("4-byte encoded extents whose 64-bit start is past 2^53: the last record still maps its fragment, which never uses the start (fuzz mutant 532083), and the others map past any device", async () => {
    const count = 3;
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4096 * count - 100);
    const { read } = fourByteExtents(count, (i) => 4096 + i, { advise: 0x0001 | ADVISE.FRAGMENT_PCLUSTER, pstartHigh: 0xffff_0000 });
    const z = await loadZInfo(ino, sb, read);
    const tail = await mapCompressed(ino, sb, z, 4096 * 2 + 5, read);
    // The record's plen is the fragment's offset in the packed inode.
    expect(tail).toMatchObject({ kind: "fragment", logical: 4096 * 2, physical: (1 << 28) | 4098 });
    const first = await mapCompressed(ino, sb, z, 5, read);
    expect(first.kind).toBe("encoded");
    expect(first.physical).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });
  it("32-byte encoded extents with no record at or below a byte: every byte below it maps to a hole from itself, a run the search need not take a byte at a time (fuzz mutant 742467)", async () => {
    // One record, starting past the end of the file: no byte has a record at or below it.
    const size = 3 * 4096;
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, size);
    const { read, reads } = wideExtents(1, () => ({ lstart: size, plen: 0 }));
    const z = await loadZInfo(ino, sb, read);
    expect(z).toMatchObject({ encodedExtents: true, extents: 1 });
    const top = await mapCompressed(ino, sb, z, 4095, read);
    expect(top).toMatchObject({ logical: 4095, length: size - 4095, kind: "hole", holeRunStart: 0 });
    reads.length = 0;
    // The rest of the page, part by part from its end as the kernel maps it: each byte a
    // hole from itself, as the search for it finds, and without searching again.
    for (let ofs = 4094; ofs >= 0; ofs--) {
      expect(await mapCompressed(ino, sb, z, ofs, read), `byte ${ofs}`).toMatchObject({ logical: ofs, length: size - ofs, kind: "hole" });
    }
    expect(reads).toEqual([]);
  });

  it("32-byte encoded extents: a page mapped part by part from its end takes one search a part, not the walk from the page's end again each part", async () => {
    // A one-byte extent at every byte of page 0 (holes: plen 0), then one to the end.
    const size = 2 * 4096;
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, size);
    const { read, reads } = wideExtents(4096, (i) => ({ lstart: i, plen: 0 }));
    const z = await loadZInfo(ino, sb, read);
    reads.length = 0;
    let parts = 0;
    for (let ofs = 4095; ofs >= 0; parts++) {
      const ext = await mapCompressed(ino, sb, z, ofs, read);
      expect(ext, `byte ${ofs}`).toMatchObject({ logical: ofs, length: ofs === 4095 ? size - 4095 : 1, kind: "hole" });
      expect(ext.holeRunStart).toBeUndefined();
      ofs = ext.logical - 1;
    }
    expect(parts).toBe(4096);
    // A search reads ~13 records of the 4,096; walking from the page's end again each part
    // made it up to 65 searches a part.
    expect(reads.length).toBeLessThanOrEqual(16 * parts);
    // Maps of one page made at once find what maps made one after another find.
    const bytes = [4095, 4000, 3000, 4094, 17, 0];
    const together = await Promise.all(bytes.map((b) => mapCompressed(ino, sb, z, b, read)));
    expect(together.map((e) => e.logical)).toEqual(bytes);
  });
});

/**
 * A metadata reader for a 48-bit extents inode with `count` 32-byte records (struct
 * z_erofs_extent: plen, pstart_lo, pstart_hi, lstart_lo, lstart_hi, reserved), their count
 * in the map header, record `i` from `record(i)`.
 */
function wideExtents(count: number, record: (i: number) => { lstart: number; plen: number }) {
  const RECORD = 32;
  const base = Math.ceil((HEADER + 8) / RECORD) * RECORD;
  const reads: Read[] = [];
  const read = async (offset: number, length: number) => {
    reads.push({ offset, length });
    const out = new Uint8Array(length);
    const dv = new DataView(out.buffer);
    for (let o = offset - (offset % 4); o < offset + length; o += 4) {
      if (o < offset || o + 4 > offset + length) continue;
      let value = 0;
      if (o === HEADER) value = count; // h_extents_lo
      else if (o === HEADER + 4) value = 0x0001 | (3 << 1); // h_advise: EXTENTS, 32-byte records
      else if (o >= base && o < base + count * RECORD) {
        const r = record(Math.floor((o - base) / RECORD));
        const field = (o - base) % RECORD;
        value = field === 0 ? r.plen : field === 12 ? r.lstart : 0;
      }
      dv.setUint32(o - offset, value, true);
    }
    return out;
  };
  return { read, reads };
}

/**
 * A metadata reader for a 48-bit extents inode with 4-byte records, as mkfs writes them:
 * the header (no count; the lcluster size, here one block), the le64 start of the first
 * pcluster (1000), then one record per lcluster, lz4 and `plen(i)` bytes long.
 */
function fourByteExtents(count: number, plen: (i: number) => number, { advise = 0x0001, pstartHigh = 0 } = {}) {
  const base = Math.ceil((HEADER + 8) / 4) * 4;
  const reads: Read[] = [];
  const read = async (offset: number, length: number) => {
    reads.push({ offset, length });
    const out = new Uint8Array(length);
    const dv = new DataView(out.buffer);
    for (let o = offset; o < offset + length; o += 4) {
      if (o === HEADER + 4) dv.setUint16(o - offset, advise, true); // h_advise: EXTENTS, 4-byte records
      else if (o === base) dv.setUint32(o - offset, 1000, true); // pstart (low half of le64)
      else if (o === base + 4) dv.setUint32(o - offset, pstartHigh, true); // pstart (high half)
      else if (o >= base + 8 && o < base + 8 + count * 4) dv.setUint32(o - offset, (1 << 28) | plen((o - base - 8) / 4), true);
    }
    return out;
  };
  return { read, reads };
}

describe("an extent is fully mapped, as the kernel's EROFS_MAP_FULL_MAPPED, only when the next head starts inside its lcluster", () => {
  // Heads at lcluster 0 and 2 (at `clusterofs`), NONHEAD 1 and 3: extents [0, 2 lclusters + clusterofs) and the rest.
  const mapAt = async (clusterofs: number, ofs: number) => {
    const record = (lcn: number) => (lcn % 2 === 0 ? { type: 1, clusterofs: lcn ? clusterofs : 0, blkaddr: 9 + lcn } : { type: 2, delta0: 1, delta1: 1 });
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4 * 4096 - 100);
    const { read } = fullIndexes(0, record);
    return mapCompressed(ino, sb, await loadZInfo(ino, sb, read), ofs, read);
  };

  it("a next head inside its lcluster: full, whichever byte was looked up", async () => {
    expect(await mapAt(300, 5)).toMatchObject({ logical: 0, length: 2 * 4096 + 300, fullMapped: true });
    expect(await mapAt(300, 2 * 4096 + 10)).toMatchObject({ logical: 0, length: 2 * 4096 + 300, fullMapped: true });
  });

  it("a next head on an lcluster boundary, or no next head (the end of the file): not full", async () => {
    expect(await mapAt(0, 5)).toMatchObject({ logical: 0, length: 2 * 4096, fullMapped: false });
    expect(await mapAt(300, 3 * 4096)).toMatchObject({ logical: 2 * 4096 + 300, length: 2 * 4096 - 400, fullMapped: false });
  });
});

describe("readsMoreAt: whether the kernel's read of a byte's page maps its extent to the end (READMORE)", () => {
  // Heads at lcluster 0 and at 300 bytes into lcluster 2, NONHEAD 1 and 3: extents [0, 8492) and [8492, 16284).
  const readsMore = async (algorithm: number, ofs: number) => {
    const record = (lcn: number) => (lcn % 2 === 0 ? { type: 1, clusterofs: lcn ? 300 : 0, blkaddr: 9 + lcn } : { type: 2, delta0: 1, delta1: 1 });
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, 4 * 4096 - 100);
    const { read } = fullIndexes(0, record, algorithm);
    return readsMoreAt(ino, sb, await loadZInfo(ino, sb, read), ofs, read);
  };

  it("LZMA: mapped to the end of the byte's lcluster, the extent must be a block or more from its start", async () => {
    expect(await readsMore(COMPRESSION.LZMA, 10)).toBe(true); // [0, 4096): a whole block
    expect(await readsMore(COMPRESSION.LZMA, 4096 + 10)).toBe(true);
    // Before the head inside lcluster 2 the map ends at that head: [0, 8492).
    expect(await readsMore(COMPRESSION.LZMA, 2 * 4096 + 100)).toBe(true);
  });

  it("LZMA: an extent that starts inside the byte's lcluster is mapped no further than that lcluster's end", async () => {
    // A byte of the second extent in its first lcluster: [8492, 12288) is under a block.
    const second = 2 * 4096 + 300;
    const page = await Promise.all([second, 3 * 4096 - 1].map((ofs) => readsMore(COMPRESSION.LZMA, ofs)));
    expect(page).toEqual([false, false]);
    // In the lcluster after it: [8492, 16384), two blocks less 300 bytes.
    expect(await readsMore(COMPRESSION.LZMA, 3 * 4096)).toBe(true);
  });

  it("LZ4 never; nothing past the end of the file", async () => {
    expect(await readsMore(COMPRESSION.LZ4, 3 * 4096)).toBe(false);
    expect(await readsMore(COMPRESSION.LZMA, 4 * 4096)).toBe(false);
  });
});

describe("lcluster walks read what they miss, once, and nothing they have", () => {
  // Head at lcluster 0, NONHEADs up to 2999, next head at 3000: the extent [0, 3000 lclusters).
  const lclusters = 3200;
  const record = (lcn: number) => (lcn === 0 || lcn === 3000 ? { type: 1, blkaddr: 9 } : { type: 2, delta0: 1, delta1: lcn > 3000 ? 1 : 3000 - lcn });
  const size = 4096 * lclusters;
  const indexEnd = HEADER + 16 + (lclusters + 1) * 8;

  it("a cold walk reads a few bounded regions of the index, never outside it", async () => {
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, size);
    const { read, reads } = fullIndexes(0, record);
    const z = await loadZInfo(ino, sb, read);
    reads.length = 0;
    // From lcluster 2999 the walk looks back 2999 indexes (~24 KiB of them) to the head.
    const ext = await mapCompressed(ino, sb, z, 2999 * 4096 + 5, read);
    // The next head starts its lcluster: the kernel never sees this extent fully mapped.
    expect(ext).toMatchObject({ logical: 0, length: 3000 * 4096, kind: "encoded", physical: 9 * 4096, fullMapped: false });
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.length).toBeLessThanOrEqual(4);
    for (const r of reads) {
      expect(r.offset).toBeGreaterThanOrEqual(HEADER);
      expect(r.offset + r.length).toBeLessThanOrEqual(indexEnd);
      expect(r.length).toBeLessThanOrEqual((16 << 10) + 8);
    }
  });

  it("with its indexes in memory a walk reads nothing, and maps as the reading walk does", async () => {
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, size);
    const { read, reads } = fullIndexes(0, record);
    const whole = await read(0, indexEnd);
    const peek = (offset: number, length: number, into: { bytes: Uint8Array; start: number }) => {
      if (offset + length > whole.length) return false;
      into.bytes = whole;
      into.start = 0;
      return true;
    };
    const z = await loadZInfo(ino, sb, read);
    for (const ofs of [0, 4095, 4096 * 1500, 2999 * 4096 + 5, 3000 * 4096, size - 1]) {
      reads.length = 0;
      const cold = await mapCompressed(ino, sb, z, ofs, read);
      expect(reads.length).toBeGreaterThan(0);
      reads.length = 0;
      expect(mapCompressedInMemory(ino, sb, z, ofs, peek)).toEqual(cold);
      expect(await mapCompressed(ino, sb, z, ofs, read, peek)).toEqual(cold);
      expect(reads).toEqual([]);
    }
  });

  it("without its indexes in memory, the in-memory walk answers undefined instead of reading", async () => {
    const ino = inode(DATALAYOUT.COMPRESSED_FULL, size);
    const { read, reads } = fullIndexes(0, record);
    const z = await loadZInfo(ino, sb, read);
    reads.length = 0;
    expect(mapCompressedInMemory(ino, sb, z, 4096 * 10, () => false)).toBeUndefined();
    expect(reads).toEqual([]);
  });
});
