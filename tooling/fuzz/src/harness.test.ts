import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runFuzz } from "./harness.js";
import { listTargets } from "./targets.js";
import type { Injection } from "./walk.js";

/**
 * The harness must catch each kind of breach, or a clean smoke run proves nothing. A fault
 * is injected as one operation right after mount, in the built worker (dist/), so this
 * runs after `pnpm build` like the rest of the suite.
 */
const workerScript = fileURLToPath(new URL("../dist/worker.js", import.meta.url));
const targets = listTargets(["fixtures"], null).filter((t) => t.name === "fixtures/demo");

async function injected(inject: Injection) {
  const summary = await runFuzz({
    targets,
    seeds: [1],
    workers: 1,
    pristine: true,
    inject,
    workerScript,
    walk: { opDeadlineMs: 300 },
    killAfterMs: 1000,
  });
  expect(summary.mutants).toBe(1);
  return summary.reports[0]!;
}

describe("the fuzz harness detects violations", () => {
  it("finds the demo fixture", () => {
    expect(targets).toHaveLength(1);
  });

  it("a clean walk has none", async () => {
    const summary = await runFuzz({ targets, seeds: [1, 2], workers: 1, pristine: true, workerScript });
    expect(summary.violations).toBe(0);
    expect(summary.ok).toBe(2);
  });

  it.each<[Injection, string, RegExp]>([
    ["throw", "exception", /TypeError: injected/],
    ["hang", "hang", /worker killed/],
    ["spin", "hang", /worker killed/],
    ["alloc", "alloc", /Uint8Array of 1073741824 bytes/],
    ["slow", "slow", /took \d+ ms \(limit 300\)/],
    ["unhandled", "unhandled", /rejection nobody handles/],
  ])("%s → a %s violation", async (inject, kind, detail) => {
    const r = await injected(inject);
    const v = r.violations.find((x) => x.kind === kind);
    expect(v, JSON.stringify(r.violations)).toBeDefined();
    expect(v!.op).toMatch(/inject/);
    expect(v!.detail).toMatch(detail);
  });

  it("a worker killed for a hang is replaced and the next seeds run", async () => {
    const summary = await runFuzz({
      targets,
      seeds: [1, 2, 3],
      workers: 1,
      pristine: true,
      inject: "spin",
      workerScript,
      walk: { opDeadlineMs: 200 },
      killAfterMs: 500,
    });
    expect(summary.killed).toBe(3);
    expect(summary.violations).toBe(3);
  });
});
