import type { FuzzSummary, SeedReport } from "./harness.js";

export function summaryLine(s: FuzzSummary): string {
  return (
    `${s.mutants} mutants in ${s.seconds.toFixed(1)} s: ${s.ok} ok, ${s.refused} refused at mount, ` +
    `${s.typed} with typed errors during the walk, ${s.killed} killed, ${s.violations} violations` +
    (s.cliRuns ? `; ${s.cliRuns} through erofs-cli` : "") +
    (s.fuseRuns ? `; ${s.fuseRuns} through erofs-fuse` : "") +
    (s.budgetHits ? `; ${s.budgetHits} walks stopped at a budget` : "")
  );
}

export function typedLine(s: FuzzSummary): string {
  const codes = Object.entries(s.typedCodes).sort((a, b) => b[1] - a[1]);
  return codes.length ? `typed errors met: ${codes.map(([k, v]) => `${k} ${v}`).join(", ")}` : "typed errors met: none";
}

/** One failing seed, everything needed to replay and read it. */
export function describeReport(r: SeedReport): string {
  const lines = [`seed ${r.seed} (${r.target}): ${r.outcome}, ${r.violations.length} violation(s) — replay: pnpm fuzz --replay ${r.seed}`];
  for (const m of r.mutation) lines.push(`  mutation: ${m}`);
  for (const v of r.violations) {
    lines.push(`  [${v.kind}] during ${v.op}:`);
    for (const l of v.detail.split("\n").slice(0, 14)) lines.push(`      ${l}`);
  }
  return lines.join("\n");
}
