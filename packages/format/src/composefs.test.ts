import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COMPOSEFS_MAGIC, parseComposefsHeader } from "./index.js";

const head = (name: string) => readFileSync(new URL(`../../../fixtures/${name}`, import.meta.url)).subarray(0, 1024);

describe("parseComposefsHeader", () => {
  it("reads the format version mkcomposefs was given (fixtures made with --min-version=N --max-version=N)", () => {
    expect(parseComposefsHeader(head("composefs-v0.erofs"))).toEqual({ headerVersion: 1, formatVersion: 0, flags: 0, hasAcl: false });
    expect(parseComposefsHeader(head("composefs-v1.erofs"))).toEqual({ headerVersion: 1, formatVersion: 1, flags: 0, hasAcl: false });
  });

  it("finds none in an image mkfs.erofs wrote, nor in bytes too short or with another magic", () => {
    expect(parseComposefsHeader(head("demo.erofs"))).toBeNull();
    const bytes = new Uint8Array(32);
    new DataView(bytes.buffer).setUint32(0, COMPOSEFS_MAGIC, true);
    expect(parseComposefsHeader(bytes.subarray(0, 31))).toBeNull();
    new DataView(bytes.buffer).setUint32(8, 0x8001, true);
    expect(parseComposefsHeader(bytes)).toEqual({ headerVersion: 0, formatVersion: 0, flags: 0x8001, hasAcl: true });
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    expect(parseComposefsHeader(bytes)).toBeNull();
  });
});
