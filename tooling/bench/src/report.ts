/** One line of a comparison: the same workload through erofs-ts and through a peer. */
export interface Row {
  workload: string;
  ours: number;
  peer?: number;
  peerName: string;
  unit: "MB/s" | "s" | "MB" | "µs";
  /** What the issue asks for, in words ("≥ 0.5× kernel"). */
  target?: string;
  /** Whether larger is better (throughput) or smaller (time, memory). */
  higherIsBetter?: boolean;
}

const fmt = (n: number | undefined, unit: string) => (n === undefined ? "-" : unit === "s" ? n.toFixed(3) : n.toFixed(1));

/** Prints rows as an aligned table; the ratio is ours/peer for throughput, peer/ours for time. */
export function printTable(title: string, rows: Row[]): void {
  console.log(`\n## ${title}`);
  const lines = [["workload", "erofs-ts", "peer", "ratio", "target"]];
  for (const r of rows) {
    const ratio =
      r.peer === undefined || r.peer === 0 || r.ours === 0
        ? "-"
        : `${(r.higherIsBetter === false ? r.peer / r.ours : r.ours / r.peer).toFixed(2)}×`;
    lines.push([r.workload, `${fmt(r.ours, r.unit)} ${r.unit}`, r.peer === undefined ? `(${r.peerName}: n/a)` : `${fmt(r.peer, r.unit)} ${r.unit} (${r.peerName})`, ratio, r.target ?? ""]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}
