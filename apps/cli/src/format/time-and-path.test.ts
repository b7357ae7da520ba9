import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isoTime } from "./mode.js";
import { joinPath } from "./names.js";

/** GNU date's rendering of a time (seconds since the epoch), as the reference. */
function gnuDate(sec: bigint): string {
  return execFileSync("date", ["-u", "-d", `@${sec}`, "+%Y-%m-%dT%H:%M:%S"], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } }).trim();
}

describe("isoTime", () => {
  it("shows a time as GNU date does, to the nanosecond, before 1970 too", () => {
    for (const [sec, nsec] of [
      [0n, 0n],
      [1_700_000_000n, 123n],
      [-86_401n, 999_999_999n],
      [253_402_300_799n, 5n],
    ] as const) {
      expect(isoTime(sec * 1_000_000_000n + nsec)).toBe(`${gnuDate(sec)}.${nsec.toString().padStart(9, "0")}Z`);
    }
  });

  it("shows a time no date can (any 64-bit i_mtime is possible) as seconds since the epoch, as coreutils' stat does", () => {
    expect(isoTime((2n ** 62n + 7n) * 1_000_000_000n + 42n)).toBe(`${2n ** 62n + 7n}.000000042`);
    expect(isoTime(-(2n ** 63n) * 1_000_000_000n)).toBe(`${-(2n ** 63n)}.000000000`);
  });
});

describe("joinPath", () => {
  const text = (b: Uint8Array) => Buffer.from(b).toString();
  it("joins with one slash, whether the parent ends with one or not", () => {
    expect(text(joinPath(Buffer.from("/"), Buffer.from("a")))).toBe("/a");
    expect(text(joinPath(Buffer.from("d/"), Buffer.from("a")))).toBe("d/a");
    expect(text(joinPath(Buffer.from("d"), Buffer.from("a")))).toBe("d/a");
    expect(text(joinPath(Buffer.alloc(0), Buffer.from("a")))).toBe("a");
  });
});
