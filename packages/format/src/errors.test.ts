import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { systemErrorReason } from "./errors.js";

/** The error a host call throws, caught. */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  throw new Error("the call did not throw");
}

describe("systemErrorReason", () => {
  it("drops Node's code prefix, syscall and path, and keeps the code after the text", () => {
    const missing = thrownBy(() => readFileSync("/nonexistent-dir/file"));
    expect((missing as Error).message).toContain("/nonexistent-dir/file");
    expect(systemErrorReason(missing)).toBe("no such file or directory (ENOENT)");
  });

  it("reads an error without a path (a write to a closed descriptor)", () => {
    const fd = openSync("/dev/null", "w");
    closeSync(fd);
    expect(systemErrorReason(thrownBy(() => writeSync(fd, "x")))).toBe("bad file descriptor (EBADF)");
  });

  it("leaves other errors' messages as they are", () => {
    expect(systemErrorReason(new Error("plain words, here"))).toBe("plain words, here");
    expect(systemErrorReason("a string")).toBe("a string");
  });
});
