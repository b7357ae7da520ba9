import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { canCheckFuse, checkFuse } from "./fuse-check.js";

/**
 * The FUSE check must catch each way a daemon can break the contract, or a clean smoke
 * run proves nothing. The faults come from small stand-ins for the daemon's command, some
 * of which run the real daemon and then misbehave around it.
 */
const daemon = join(repoRoot(), "apps/fuse/bin/erofs-fuse.cjs");
const demo = { image: join(repoRoot(), "fixtures/demo.erofs"), devices: [], fsoffset: 0 };
const work = new ScratchDir("erofs-fuse-check-test-");
const TIMEOUT_MS = 2000;

/** A stand-in for erofs-fuse: a CommonJS script given the same arguments. */
function standIn(name: string, body: string): string {
  const path = join(work.path, `${name}.cjs`);
  writeFileSync(path, `"use strict";\nconst { spawn } = require("node:child_process");\nconst daemon = ${JSON.stringify(daemon)};\n${body}\n`);
  return path;
}

/** Runs the real daemon with this script's arguments, its stderr passed through. */
const RUN_REAL = `const child = spawn(process.execPath, [daemon, ...process.argv.slice(2)], { stdio: ["ignore", "ignore", "inherit"] });
child.on("exit", (code) => process.exit(code ?? 1));`;

const stopped: number[] = [];
afterAll(() => {
  for (const pid of stopped) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  work.remove();
});

describe.skipIf(!canCheckFuse(daemon))("the FUSE check (needs root, /dev/fuse and the built daemon)", () => {
  it("the real daemon on an intact image: mounted, walked, unmounted, no violation", async () => {
    const r = await checkFuse(daemon, demo, 1, 30_000);
    expect(r.violations).toEqual([]);
    expect(r.outcome).toBe("served");
    expect(r.walk!.entries).toBeGreaterThan(3);
    expect(r.walk!.bytes).toBeGreaterThan(0);
  });

  it("a refusal that says nothing is a violation", async () => {
    const r = await checkFuse(standIn("silent", "process.exit(1);"), demo, 2, TIMEOUT_MS);
    expect(r.outcome).toBe("refused");
    expect(r.violations.map((v) => v.detail).join("\n")).toMatch(/exit 1 without an erofs-fuse: message/);
  });

  it("a crash before mounting is a violation", async () => {
    const r = await checkFuse(standIn("crash", 'throw new TypeError("Cannot read properties of undefined");'), demo, 2, TIMEOUT_MS);
    expect(r.violations.map((v) => v.detail).join("\n")).toMatch(/exit status 1 without a mount|untyped|without an erofs-fuse/);
  });

  it("a fault of the daemon's own in its log is a violation", async () => {
    const script = standIn("logs-fault", `process.stderr.write("/m: unexpected: TypeError: x is not a function\\n");\n${RUN_REAL}`);
    const r = await checkFuse(script, demo, 2, 30_000);
    expect(r.outcome).toBe("served");
    const v = r.violations.find((x) => x.op === "daemon log");
    expect(v?.detail).toMatch(/unexpected: TypeError/);
  });

  it("a request never answered is a violation, and the check still ends", async () => {
    const pidFile = join(work.path, "stopped-pid");
    // Stops the real daemon's serving process (the one its pid file names: under -f, a child
    // of the process started) once its mount is live: every request after that waits forever.
    const script = standIn(
      "stops",
      `const child = spawn(process.execPath, [daemon, ...process.argv.slice(2)], { stdio: "ignore" });
const pidArg = process.argv[process.argv.indexOf("--pidfile") + 1];
const poll = setInterval(() => {
  let text = "";
  try {
    text = require("node:fs").readFileSync(pidArg, "utf8");
  } catch {}
  if (!/^\\d+\\n$/.test(text)) return;
  clearInterval(poll);
  require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, text);
  process.kill(Number(text), "SIGSTOP");
}, 10);`,
    );
    const r = await checkFuse(script, demo, 2, TIMEOUT_MS);
    if (existsSync(pidFile)) stopped.push(Number(readFileSync(pidFile, "utf8")));
    expect(r.outcome).toBe("served");
    expect(r.violations.find((v) => v.op === "walk of the mount")?.detail).toMatch(/request went unanswered/);
  });
});
