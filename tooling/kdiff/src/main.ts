#!/usr/bin/env node
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { releaseAll } from "./cleanup.js";
import { describeDifference, type Reader } from "./compare.js";
import { extractUnavailable } from "./extract-walk.js";
import { fuseUnavailable } from "./fuse-walk.js";
import { materialise } from "./materialise.js";
import type { MkfsFlavour } from "./options.js";
import { runSeed, type SeedOutcome } from "./sweep.js";
import { planTree } from "./tree.js";

const USAGE = `usage: erofs-kdiff --seed S --count N [--mkfs upstream|debian|composefs|both|all] [--reader vfs|fuse|extract|both|all|R,R] [--out DIR] [--keep]
       erofs-kdiff --seed S --tree DIR
  --seed S        first seed (default 1); seeds S..S+N-1 run
  --count N       number of seeds (default 100)
  --mkfs F        what makes the images (default both):
                    upstream  erofs-utils 1.9.3 ($MKFS_UPSTREAM, default
                              /work/peer/erofs-utils/mkfs/mkfs.erofs)
                    debian    Debian's 1.5 ($MKFS_DEBIAN, default /usr/bin/mkfs.erofs)
                    composefs composefs's mkcomposefs, its own EROFS writer
                              ($MKCOMPOSEFS, default
                              /work/peer/composefs/build/tools/mkcomposefs)
                    both      debian and upstream;  all  all three
  --reader R      what is walked against the kernel's mount (default vfs):
                    vfs      the vfs library, in a child process
                    fuse     an erofs-fuse mount, walked as the kernel's is
                    extract  erofs-cli extract's tree (in the seed's work
                             directory), walked as the kernel's is
                    both     vfs and fuse;  all  all three;  or a list: vfs,extract
  --out DIR       where differing seeds are saved (default a new directory in $TMPDIR)
  --keep          keep every seed's work directory (tree, image, walks) under --out
  --vfs-timeout S seconds one vfs walk may take (default 180)
  --minutes M     start no seed after M minutes (the summary covers the seeds run)
  --tree DIR      only write seed S's tree to DIR (to rebuild an image by hand)
needs root, the kernel's erofs, python3, losetup and tar; skips with one line without them.
exit status: 0 every seed equal (or skipped), 1 a seed differs, 2 bad usage`;

const DEFAULT_MKFS: Record<MkfsFlavour, string> = {
  upstream: process.env.MKFS_UPSTREAM ?? "/work/peer/erofs-utils/mkfs/mkfs.erofs",
  debian: process.env.MKFS_DEBIAN ?? "/usr/bin/mkfs.erofs",
  composefs: process.env.MKCOMPOSEFS ?? "/work/peer/composefs/build/tools/mkcomposefs",
};

/** How to get a flavour's writer where it is absent. */
const INSTALL_HINT: Record<MkfsFlavour, string> = {
  upstream: "set MKFS_UPSTREAM",
  debian: "apt-get install erofs-utils, or set MKFS_DEBIAN",
  composefs: "build github.com/containers/composefs, or set MKCOMPOSEFS",
};

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seed: { type: "string", default: "1" },
        count: { type: "string", default: "100" },
        mkfs: { type: "string", default: "both" },
        reader: { type: "string", default: "vfs" },
        out: { type: "string" },
        keep: { type: "boolean" },
        "vfs-timeout": { type: "string", default: "180" },
        minutes: { type: "string" },
        tree: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`erofs-kdiff: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seed = Number(values.seed);
  const count = Number(values.count);
  const vfsTimeout = Number(values["vfs-timeout"]);
  const stopAt = values.minutes === undefined ? Infinity : Date.now() + Number(values.minutes) * 60_000;
  const flavours: MkfsFlavour[] = values.mkfs === "both" ? ["debian", "upstream"] : values.mkfs === "all" ? ["debian", "upstream", "composefs"] : [values.mkfs as MkfsFlavour];
  const readers = parseReaders(values.reader);
  if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(count) || count < 1 || !(vfsTimeout > 0) || !(stopAt > Date.now()) || !flavours.every((f) => f in DEFAULT_MKFS) || !readers) {
    console.error(`erofs-kdiff: bad arguments\n${USAGE}`);
    return 2;
  }
  if (values.tree) {
    const { refusedXattrs } = materialise(planTree(seed), resolve(values.tree));
    console.log(`seed ${seed}: tree written to ${values.tree}${refusedXattrs ? ` (${refusedXattrs} xattrs refused by the host filesystem)` : ""}`);
    return 0;
  }

  const missing = missingPrerequisite() ?? (readers.includes("fuse") ? fuseUnavailable() : null) ?? (readers.includes("extract") ? extractUnavailable() : null);
  if (missing) {
    console.log(`erofs-kdiff: skipped: ${missing}`);
    return 0;
  }
  const usable = flavours.filter((f) => {
    if (existsSync(DEFAULT_MKFS[f])) return true;
    console.log(`erofs-kdiff: skipped --mkfs ${f}: ${DEFAULT_MKFS[f]} is absent (${INSTALL_HINT[f]})`);
    return false;
  });
  if (!usable.length) return 0;
  const vfsWalker = join(dirname(fileURLToPath(import.meta.url)), "vfs-walk-cli.js");
  if (!existsSync(vfsWalker)) {
    console.error(`erofs-kdiff: ${vfsWalker} is missing: run pnpm build`);
    return 1;
  }

  const outDir = values.out ? resolve(values.out) : mkdtempSync(join(tmpdir(), "erofs-kdiff-"));
  mkdirSync(outDir, { recursive: true });
  const log = join(outDir, "log.jsonl");
  console.log(`erofs-kdiff: seeds ${seed}..${seed + count - 1}, mkfs ${usable.map((f) => `${f} (${DEFAULT_MKFS[f]})`).join(", ")}, kernel against ${readers.join(" and ")}; output in ${outDir}`);
  const tallies = new Map(usable.map((f) => [f, new Tally()]));
  for (let s = seed; s < seed + count; s++) {
    if (Date.now() >= stopAt) {
      console.log(`erofs-kdiff: --minutes reached: stopped before seed ${s}`);
      break;
    }
    for (const flavour of usable) {
      let r: SeedOutcome;
      try {
        r = await runSeed(s, { flavour, mkfs: DEFAULT_MKFS[flavour], outDir, keep: Boolean(values.keep), vfsWalker, vfsTimeoutMs: vfsTimeout * 1000, readers });
      } catch (e) {
        // The harness's own failure (the tree, tar, a mount that would not undo): stop.
        console.error(`erofs-kdiff: seed ${s} ${flavour}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        releaseAll();
        return 1;
      }
      // A seed runs synchronously from end to end (spawnSync, sync fs calls), so a signal
      // is only acted on when the event loop turns: here, between seeds, with nothing
      // mounted. Until then cleanup.ts's handler keeps SIGINT from killing the process
      // halfway through a mount.
      await new Promise((next) => setImmediate(next));
      tallies.get(flavour)!.add(r);
      console.log(seedLine(r));
      appendFileSync(log, `${JSON.stringify({ ...r, diffs: r.diffs.slice(0, 10) })}\n`);
    }
  }
  let differing = 0;
  const summary: Record<string, unknown> = {};
  for (const [flavour, t] of tallies) {
    console.log(t.summary(flavour));
    differing += t.differs;
    summary[flavour] = t.toJSON();
  }
  writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 1));
  // A directory made for this run goes when there is nothing in it to look at; one named
  // by --out keeps its log and summary.
  if (!values.out && !values.keep && !differing) rmSync(outDir, { recursive: true, force: true });
  return differing ? 1 : 0;
}

const READERS: readonly Reader[] = ["vfs", "fuse", "extract"];

/** --reader's value: one reader, a comma list, `both` (vfs and fuse, as before extract was one) or `all`; null when a name is unknown. */
function parseReaders(value: string): Reader[] | null {
  if (value === "both") return ["vfs", "fuse"];
  if (value === "all") return [...READERS];
  const names = [...new Set(value.split(","))];
  return names.every((n): n is Reader => (READERS as readonly string[]).includes(n)) ? names : null;
}

/** Why the sweep cannot run here, or null. */
function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return "not root (mounting the kernel's erofs and losetup need it)";
  let filesystems = "";
  try {
    filesystems = readFileSync("/proc/filesystems", "utf8");
  } catch {
    return "no /proc/filesystems (not Linux?)";
  }
  if (!/\terofs$/m.test(filesystems)) return "the kernel has no erofs (modprobe erofs?)";
  if (!existsSync("/usr/bin/python3")) return "no /usr/bin/python3 (the xattr and mknod probes use it)";
  return null;
}

function seedLine(r: SeedOutcome): string {
  const head = `seed ${r.seed} ${r.flavour}:`;
  const secs = `${(r.ms / 1000).toFixed(1)} s`;
  switch (r.status) {
    case "equal":
      return `${head} equal (${secs})`;
    case "mkfs refused":
    case "mkfs crashed":
      return `${head} ${r.status}: ${r.detail ?? ""}`;
    case "differs": {
      const fields = [...new Set(r.diffs.map((d) => `${d.field} (${d.reader})`))].slice(0, 5).join(", ");
      const tag = r.known ? ` [known: ${r.known.join("; ")}]` : "";
      const stable = r.kernelStable === false ? " (kernel differs from itself on a remount)" : "";
      return `${head} differs: ${fields}${tag}${stable} -> ${r.saved}\n    ${r.argv.slice(1, -2).join(" ")}\n${r.diffs
        .slice(0, 3)
        .map((d) => `    ${describeDifference(d)}`)
        .join("\n")}`;
    }
  }
}

class Tally {
  built = 0;
  equal = 0;
  differs = 0;
  known = 0;
  refused = 0;
  crashed = 0;
  readonly options = new Map<string, number>();
  readonly newSeeds: number[] = [];

  add(r: SeedOutcome): void {
    if (r.status === "mkfs refused") this.refused++;
    else if (r.status === "mkfs crashed") this.crashed++;
    else {
      this.built++;
      for (const t of r.tags) this.options.set(t, (this.options.get(t) ?? 0) + 1);
      if (r.status === "equal") this.equal++;
      else {
        this.differs++;
        if (r.known) this.known++;
        else this.newSeeds.push(r.seed);
      }
    }
  }

  summary(flavour: string): string {
    const opts = [...this.options].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(", ");
    return (
      `${flavour}: ${this.built} images built: ${this.equal} equal, ${this.differs} differ (${this.known} known${this.newSeeds.length ? `; new: ${this.newSeeds.join(" ")}` : ""}); ` +
      `mkfs refused ${this.refused}, crashed ${this.crashed}\n  options of built images: ${opts || "none"}`
    );
  }

  toJSON(): object {
    return { built: this.built, equal: this.equal, differs: this.differs, known: this.known, refused: this.refused, crashed: this.crashed, newSeeds: this.newSeeds, options: Object.fromEntries(this.options) };
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    releaseAll();
    console.error(`erofs-kdiff: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
