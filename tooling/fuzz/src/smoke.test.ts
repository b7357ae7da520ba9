import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ensureCorpus, repoRoot } from "@erofs-ts/testkit";
import { canCheckFuse } from "./fuse-check.js";
import { runFuzz } from "./harness.js";
import { describeReport, summaryLine } from "./report.js";
import { listTargets } from "./targets.js";

/**
 * CI's bounded fuzz run: a fixed list of seeds over the in-repo fixtures, plus the corpus
 * images when the corpus is present, must meet the contract with no exception. The seeds
 * are fixed so a failure here replays with `pnpm fuzz --replay SEED` (same image sets).
 * `pnpm fuzz --count N` runs the same thing longer.
 */
const workerScript = fileURLToPath(new URL("../dist/worker.js", import.meta.url));
const corpus = ensureCorpus();
const sets = corpus ? (["fixtures", "corpus"] as const) : (["fixtures"] as const);
const SEEDS = Array.from({ length: 300 }, (_, i) => 1 + i);
const fusePath = join(repoRoot(), "apps/fuse/bin/erofs-fuse.cjs");
// Mounting needs root and /dev/fuse, the xattr walk getfattr (CI has all three); elsewhere the daemon's share is skipped, and said so.
const withFuse = canCheckFuse(fusePath);

describe("fuzz smoke", () => {
  it(`300 mutants of the ${sets.join(" and ")} images: zero contract violations (5 through erofs-cli${withFuse ? ", 5 through erofs-fuse" : "; erofs-fuse skipped: needs root, /dev/fuse and getfattr"})`, async () => {
    const targets = listTargets([...sets], corpus);
    const summary = await runFuzz({
      targets,
      seeds: SEEDS,
      workers: Math.min(4, availableParallelism()),
      workerScript,
      cliEvery: 60,
      cliPath: join(repoRoot(), "apps/cli/dist/main.js"),
      ...(withFuse ? { fuseEvery: 60, fusePath } : {}),
    });
    const failures = summary.reports.filter((r) => r.violations.length).map(describeReport);
    console.log(summaryLine(summary));
    expect(failures.join("\n\n")).toBe("");
    expect(summary.mutants).toBe(SEEDS.length);
    // The mutations do reach past mount: a run where everything is refused tests little.
    expect(summary.refused).toBeLessThan(summary.mutants / 2);
    expect(summary.cliRuns).toBe(5);
    expect(summary.fuseRuns).toBe(withFuse ? 5 : 0);
    // Some of those mutants do get mounted and walked: a check that only ever sees refusals tests little.
    if (withFuse) expect(summary.reports.filter((r) => r.fuse?.outcome === "served").length).toBeGreaterThan(0);
  });
});
