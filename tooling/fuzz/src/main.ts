#!/usr/bin/env node
import { existsSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureCorpus, repoRoot } from "@erofs-ts/testkit";
import { canCheckFuse } from "./fuse-check.js";
import { runFuzz, type SeedReport } from "./harness.js";
import { describeReport, summaryLine, typedLine } from "./report.js";
import { listTargets, type TargetSet } from "./targets.js";

const USAGE = `usage: pnpm fuzz [--seed S] [--count N] [--cli N] [--fuse N] [--images SETS] [--workers J]
       pnpm fuzz --replay SEED [--images SETS] [--save FILE]
  --seed S        first seed (default 1); seeds S..S+N-1 run
  --count N       number of mutants (default 1000)
  --cli N         every Nth mutant also runs erofs-cli fsck and ls -R (default 0: never)
  --fuse N        every Nth mutant is also mounted with erofs-fuse and walked (default 0:
                  never; root and /dev/fuse, getfattr from the attr package)
  --images SETS   comma-separated: fixtures, corpus, real (default fixtures,corpus;
                  a seed names the same mutant only with the same SETS and corpus)
  --workers J     worker threads (default: available cores)
  --op-ms MS      per-operation limit (default 2000)
  --pristine      walk the unmutated images instead (a baseline: must be clean)
  --replay SEED   re-run one seed, print its mutation and every violation in full
  --save FILE     with --replay: also write the mutant image to FILE
  --json FILE     write every seed's report as JSON
exit status: 0 no violation, 1 violations, 2 bad usage`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seed: { type: "string", default: "1" },
        count: { type: "string", default: "1000" },
        cli: { type: "string", default: "0" },
        fuse: { type: "string", default: "0" },
        images: { type: "string", default: "fixtures,corpus" },
        workers: { type: "string" },
        "op-ms": { type: "string", default: "2000" },
        pristine: { type: "boolean" },
        replay: { type: "string" },
        save: { type: "string" },
        json: { type: "string" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`erofs-fuzz: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`bad --${name} ${v}`);
    return n;
  };
  let seed: number, count: number, cliEvery: number, fuseEvery: number, workers: number, opMs: number;
  const sets = (values.images ?? "").split(",").filter(Boolean) as TargetSet[];
  try {
    seed = num("seed", values.replay ?? values.seed, 0);
    count = values.replay ? 1 : num("count", values.count, 1);
    cliEvery = num("cli", values.cli, 0);
    fuseEvery = num("fuse", values.fuse, 0);
    workers = values.replay ? 1 : num("workers", values.workers ?? String(availableParallelism()), 1);
    opMs = num("op-ms", values["op-ms"], 1);
    for (const s of sets) if (!["fixtures", "corpus", "real"].includes(s)) throw new Error(`unknown image set ${s}`);
  } catch (e) {
    console.error(`erofs-fuzz: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const corpus = sets.includes("corpus") || sets.includes("real") ? ensureCorpus() : null;
  const targets = listTargets(sets, corpus);
  if (!targets.length) {
    console.error("erofs-fuzz: no images to fuzz (is the corpus unpacked?)");
    return 1;
  }
  const cliPath = join(repoRoot(), "apps/cli/dist/main.js");
  if (cliEvery && !existsSync(cliPath)) {
    console.error(`erofs-fuzz: ${cliPath} is missing: run pnpm build`);
    return 1;
  }
  const fusePath = join(repoRoot(), "apps/fuse/bin/erofs-fuse.cjs");
  if (fuseEvery && !canCheckFuse(fusePath)) {
    console.error(`erofs-fuzz: --fuse needs root, /dev/fuse, getfattr (package attr) and the built daemon (${fusePath}; run pnpm build)`);
    return 1;
  }
  const seeds = Array.from({ length: count }, (_, i) => seed + i);
  console.log(
    `erofs-fuzz: seeds ${seed}..${seed + count - 1} over ${targets.length} images (${sets.join(",")}), ${workers} workers` +
      (cliEvery ? `, erofs-cli on 1 mutant in ${cliEvery}` : "") +
      (fuseEvery ? `, erofs-fuse on 1 mutant in ${fuseEvery}` : "") +
      (values.pristine ? ", pristine images" : ""),
  );
  let done = 0;
  let bad = 0;
  const replay = values.replay !== undefined;
  const summary = await runFuzz({
    targets,
    seeds,
    workers,
    walk: { opDeadlineMs: opMs },
    cliEvery: replay ? (cliEvery ? 1 : 0) : cliEvery,
    cliPath,
    fuseEvery: replay ? (fuseEvery ? 1 : 0) : fuseEvery,
    fusePath,
    pristine: Boolean(values.pristine),
    onResult(r: SeedReport) {
      done++;
      if (r.violations.length) {
        bad++;
        console.log(describeReport(r));
      } else if (values.verbose || replay) {
        console.log(`seed ${r.seed} (${r.target}): ${r.outcome}${r.refusal ? ` — ${r.refusal}` : ""} (${r.ops} ops, ${Math.round(r.ms)} ms)`);
        if (replay) for (const m of r.mutation) console.log(`  mutation: ${m}`);
        if (replay) console.log(`  typed errors: ${JSON.stringify(r.typed)}`);
        if (replay && r.fuse) console.log(`  erofs-fuse: ${r.fuse.outcome}${r.fuse.walk ? `, walk ${JSON.stringify(r.fuse.walk)}` : ""}`);
      }
      if (!replay && done % 500 === 0) console.log(`… ${done}/${count} (${bad} seeds with violations)`);
    },
  });
  if (replay && values.save) await saveMutant(targets, seed, values.save);
  console.log(summaryLine(summary));
  console.log(typedLine(summary));
  if (values.json) writeFileSync(values.json, JSON.stringify(summary, (_k, v) => (typeof v === "bigint" ? String(v) : v), 1));
  return summary.violations ? 1 : 0;
}

/** Writes a seed's mutant to a file (and its mutated devices beside it) for a closer look. */
async function saveMutant(targets: ReturnType<typeof listTargets>, seed: number, to: string): Promise<void> {
  const { writeMutant } = await import("./save.js");
  const written = await writeMutant(targets, seed, to);
  console.log(`mutant written to ${to}${written.devices.length ? ` (devices: ${written.devices.join(", ")})` : ""}${written.fsoffset ? ` (fsoffset ${written.fsoffset})` : ""}`);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`erofs-fuzz: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
