import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const INVALIDATED = "Invalidating protector cell ArrayBufferDetaching";
const built = pathToFileURL(fileURLToPath(new URL("../dist/index.js", import.meta.url))).href;

/** stdout of a fresh Node running `code` as a module, with V8 reporting protector invalidations. */
function traced(code: string): string[] {
  const r = spawnSync(process.execPath, ["--trace-protector-invalidation", "--input-type=module", "-e", code], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n");
}

describe("loading the package", () => {
  it("detaches a buffer at once, so V8 never throws away code compiled before a decoder's memory grows", () => {
    const lines = traced(`await import(${JSON.stringify(built)}); console.log("loaded");`);
    expect(lines).toContain(INVALIDATED);
    expect(lines.indexOf(INVALIDATED)).toBeLessThan(lines.indexOf("loaded"));
    // Node itself detaches nothing at start-up: the import is what did it.
    expect(traced(`console.log("loaded");`)).not.toContain(INVALIDATED);
  });
});
