import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "@erofs-ts/testkit";
import { NATIVE_PATH } from "../protocol/device.js";

const addon = join(repoRoot(), "apps/fuse", NATIVE_PATH);
const NATIVE = existsSync(addon);
if (!NATIVE) console.log(`native exit test skipped: ${addon} is not built`);

/**
 * The serving process ends by the native part's _exit (main.ts, endServing): process.exit
 * can hang for good joining V8's threads. What that relies on, in a child process: the
 * status given, no exit listener run, and, once an empty write's callback has run, all
 * written before it through (a megabyte to a pipe, which takes it in pieces).
 */
describe.skipIf(!NATIVE)("exitNow", () => {
  it("ends the process with the status given, after all written to a pipe before an empty write's callback, running no exit listeners", () => {
    const script = `
      const native = require(${JSON.stringify(addon)});
      process.on("exit", () => process.stderr.write("exit listener ran"));
      process.stderr.write("x".repeat(1 << 20));
      process.stderr.write("end");
      process.stderr.write("", () => {
        native.exitNow(7);
        process.stderr.write("after exitNow");
      });`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", maxBuffer: 4 << 20 });
    expect(r.status).toBe(7);
    expect(r.stderr.length).toBe((1 << 20) + 3);
    expect(r.stderr.endsWith("xend")).toBe(true);
  });
});
