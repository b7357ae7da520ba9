import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { DATALAYOUT, parseInode, parseSuperblock } from "./index.js";
import { buildSuperblock, compactInode } from "./test-image.test-helper.js";

/**
 * A guard for words.ts: inodes, which the read path keeps many of, must keep one hidden
 * class (V8 "map") whatever image they come from. Before it, a compressed file's block
 * count, computed as `iu + hi * 2 ** 32`, was a floating-point value stored in a field
 * that plain images' inodes had filled with small integers, and V8 replaced the inodes'
 * class: in a process reading a plain image and then a compressed one, ten functions of
 * the read path bailed out ("wrong map") and were compiled again.
 *
 * V8's `%HaveSameMap` answers directly. Natives syntax is switched on here only to build
 * that one function; each test file runs in a process of its own, so the maps compared
 * here start as this file makes them.
 */
setFlagsFromString("--allow-natives-syntax");
const haveSameMap = new Function("a", "b", "return %HaveSameMap(a, b)") as (a: object, b: object) => boolean;
const isSmallInteger = new Function("x", "return %IsSmi(x)") as (x: unknown) => boolean;

const sb = parseSuperblock(buildSuperblock({}));

/** A compact regular file inode of layout `datalayout` whose i_u word is `iu`. */
function compactFile(datalayout: number, iu: number): Uint8Array {
  return compactInode({ ifmt: datalayout << 1, mode: 0o100644, size: 100_000, iu });
}

describe("inode objects keep one hidden class across layouts", () => {
  // One sequence only: the first values a field meets decide its representation, and
  // every later test in this file would meet a field already settled by this one.
  it("a plain image's inodes (block addresses of every size), then a compressed file's, share one class", () => {
    // As a process meets them reading a plain image (an inline file first, whose null
    // block address 2^32 - 1 is not a small integer), then a compressed one.
    const inline = parseInode(compactFile(DATALAYOUT.FLAT_INLINE, 0xffff_ffff), sb, 10n, 0);
    const flat = parseInode(compactFile(DATALAYOUT.FLAT_PLAIN, 1234), sb, 11n, 32);
    const compressed = parseInode(compactFile(DATALAYOUT.COMPRESSED_COMPACT, 7), sb, 12n, 64);
    // Compared before any is read from: a read would move a stale object to the new class.
    const same = [haveSameMap(inline, flat), haveSameMap(flat, compressed)];
    expect([inline.startBlock, flat.startBlock, compressed.startBlock, compressed.compressedBlocks]).toEqual([0xffff_ffff, 1234, null, 7]);
    expect(same).toEqual([true, true]);
    // And a small block address reads back as a small integer, as offsets computed from it
    // do: a field first filled with 2^32 - 1 kept every later address a floating-point box.
    expect(isSmallInteger(flat.startBlock)).toBe(true);
  });
});
