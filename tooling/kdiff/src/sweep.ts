import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hold } from "./cleanup.js";
import { compareWalks, type Difference, type Reader } from "./compare.js";
import { walkExtract } from "./extract-walk.js";
import { walkFuse } from "./fuse-walk.js";
import { walkKernel } from "./kernel-walk.js";
import { knownFamilies } from "./known.js";
import { materialise } from "./materialise.js";
import { mkfsOperands, planMkfs, type MkfsFlavour, type MkfsPlan } from "./options.js";
import { planTree } from "./tree.js";
import type { WalkResult } from "./walk.js";

export interface SweepSettings {
  readonly flavour: MkfsFlavour;
  /** The mkfs.erofs (or mkcomposefs) binary of that flavour. */
  readonly mkfs: string;
  /** Differing seeds are saved under it, work directories made in it. */
  readonly outDir: string;
  /** Keep every seed's work directory (tree, image, both walks). */
  readonly keep: boolean;
  /** dist/vfs-walk-cli.js. */
  readonly vfsWalker: string;
  readonly vfsTimeoutMs: number;
  /** What is walked against the kernel: the vfs, an erofs-fuse mount, an erofs-cli extraction, or several. */
  readonly readers: readonly Reader[];
}

export type SeedStatus = "equal" | "differs" | "mkfs refused" | "mkfs crashed";

export interface SeedOutcome {
  readonly seed: number;
  readonly flavour: MkfsFlavour;
  readonly status: SeedStatus;
  readonly argv: string[];
  readonly tags: string[];
  readonly device: string | null;
  readonly diffs: Difference[];
  /** The known families that account for all of a differing seed's differences, if they do. */
  readonly known: string[] | null;
  /** For a differing seed: whether a second kernel mount walked the same as the first. */
  readonly kernelStable: boolean | null;
  /** mkfs's complaint, or why the vfs walk failed. */
  readonly detail: string | null;
  /** Where the seed's image, argv and walks were saved (differing seeds, --keep). */
  readonly saved: string | null;
  readonly ms: number;
}

/** One seed: tree, mkfs, the walks, compare; saves a differing seed's evidence. */
export async function runSeed(seed: number, s: SweepSettings): Promise<SeedOutcome> {
  const started = performance.now();
  const work = join(s.outDir, `work-${s.flavour}-${seed}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const dropWork = hold(() => {
    if (!s.keep) rmSync(work, { recursive: true, force: true });
  });
  try {
    const tree = join(work, "tree");
    materialise(planTree(seed), tree);
    const plan = planMkfs(seed, s.flavour, { hints: join(work, "hints"), blob: join(work, "blob"), store: join(work, "store") });
    if (plan.hints !== null) writeFileSync(join(work, "hints"), plan.hints);
    const image = join(work, "image.erofs");
    const source = plan.source === "dir" ? tree : makeTar(tree, join(work, "tree.tar"));
    const device = plan.blob ? join(work, "blob") : plan.source === "tar-index" ? source : null;
    const base = plan.incremental && incrementalBase(seed, plan, source, work);
    const argv = [s.mkfs, ...plan.args, ...(plan.incremental ? [`--incremental=${plan.incremental.mode}`] : []), ...mkfsOperands(s.flavour, image, source)];
    const baseArgv = base ? [s.mkfs, ...plan.args, ...mkfsOperands(s.flavour, image, base.source)] : null;
    const outcome = (status: SeedStatus, rest: Partial<SeedOutcome> = {}): SeedOutcome => ({
      seed, flavour: s.flavour, status, argv, tags: plan.tags, device, diffs: [], known: null, kernelStable: null, detail: null,
      saved: s.keep ? work : null, ms: performance.now() - started, ...rest,
    });
    const baseTreeSeed = base?.treeSeed;
    writeFileSync(join(work, "argv.json"), JSON.stringify({ seed, flavour: s.flavour, baseArgv, baseTreeSeed, argv, device, tags: plan.tags }, null, 1));

    for (const command of baseArgv ? [baseArgv, argv] : [argv]) {
      const made = spawnSync(command[0]!, command.slice(1), { encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 26 });
      if (made.status === 0) continue;
      const crashed = made.status === null;
      const complaint = mkfsComplaint(`${made.stderr}\n${made.stdout}`);
      const step = command === baseArgv ? "the base build: " : "";
      const detail = `${step}${crashed ? `killed by ${made.signal ?? made.error?.message}${complaint ? ` after: ${complaint}` : ""}` : complaint}`;
      return outcome(crashed ? "mkfs crashed" : "mkfs refused", { detail });
    }
    const kernel = walkKernel(image, device);
    const walks = new Map<Reader, WalkResult>();
    if (s.readers.includes("vfs")) {
      const vfs = await walkVfsChild(image, device, work, s);
      if ("failure" in vfs) {
        const diffs: Difference[] = [{ reader: "vfs", path: "<vfs>", field: "vfs walk", kernel: null, ours: vfs.failure }];
        return outcome("differs", { diffs, detail: vfs.failure, saved: save(work, s, seed, plan, kernel, null, walks, diffs) });
      }
      walks.set("vfs", vfs);
    }
    if (s.readers.includes("fuse")) walks.set("fuse", walkFuse(image, device));
    // Extracted into the work directory: the same host filesystem as the tree mkfs read.
    if (s.readers.includes("extract")) walks.set("extract", walkExtract(image, device, join(work, "extract")));
    const diffs = [...walks].flatMap(([reader, walk]) => compareWalks(kernel, walk, reader));
    writeFileSync(join(work, "kernel.json"), JSON.stringify(kernel));
    for (const [reader, walk] of walks) writeFileSync(join(work, `${reader}.json`), JSON.stringify(walk));
    if (!diffs.length) return outcome("equal");
    // A second mount tells a reader that answers the same from one that does not.
    const again = walkKernel(image, device);
    const kernelStable = compareWalks(kernel, again).length === 0;
    return outcome("differs", {
      diffs,
      known: knownFamilies(plan, diffs),
      kernelStable,
      saved: save(work, s, seed, plan, kernel, again, walks, diffs),
    });
  } finally {
    dropWork();
  }
}

/**
 * What an incremental seed's first build reads: this seed's own tree again (every file
 * and directory rebuilt over itself) or the tree of another seed (two trees merged),
 * as a directory or a tar like the seed's source.
 */
function incrementalBase(seed: number, plan: MkfsPlan, source: string, work: string): { source: string; treeSeed: number } {
  if (plan.incremental!.base === "same tree") return { source, treeSeed: seed };
  const treeSeed = seed + BASE_TREE_SEEDS;
  const baseTree = join(work, "base-tree");
  materialise(planTree(treeSeed), baseTree);
  return { source: plan.source === "dir" ? baseTree : makeTar(baseTree, join(work, "base-tree.tar")), treeSeed };
}

/** Where the seeds of incremental seeds' other trees start: far from any sweep's own. */
const BASE_TREE_SEEDS = 1_000_000_000;

function makeTar(tree: string, tar: string): string {
  const r = spawnSync("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "-C", tree, "-cf", tar, "."], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return tar;
}

/** What the vfs child answers; a load error (someone rebuilding dist/) is retried after a pause. */
async function walkVfsChild(image: string, device: string | null, work: string, s: SweepSettings): Promise<WalkResult | { failure: string }> {
  const out = join(work, "vfs.json");
  for (let attempt = 1; ; attempt++) {
    rmSync(out, { force: true });
    const r = spawnSync(process.execPath, [s.vfsWalker, image, out, ...(device ? [device] : [])], {
      encoding: "utf8",
      timeout: s.vfsTimeoutMs,
      maxBuffer: 1 << 26,
    });
    if (r.status === 0 && existsSync(out)) return JSON.parse(readFileSync(out, "utf8")) as WalkResult;
    const why = r.status === null ? `killed (${r.signal ?? "timeout"}) after ${s.vfsTimeoutMs} ms limit` : lastLine(r.stderr, 600);
    if (/ERR_MODULE_NOT_FOUND|SyntaxError|does not provide an export|Cannot find module/.test(r.stderr) && attempt < 6) {
      const error = r.stderr.split("\n").find((l) => /Error|Cannot find/.test(l)) ?? lastLine(r.stderr);
      console.log(`  vfs did not load (${error.slice(0, 200)}): a rebuild under way? retrying in 60 s`);
      await new Promise((done) => setTimeout(done, 60_000));
      continue;
    }
    return { failure: why };
  }
}

/** The seed's evidence under OUT/FLAVOUR-SEED: argv, image, devices, hints, the walks, the differences. */
function save(work: string, s: SweepSettings, seed: number, plan: MkfsPlan, kernel: WalkResult, again: WalkResult | null, walks: ReadonlyMap<Reader, WalkResult>, diffs: Difference[]): string {
  const dir = join(s.outDir, `${s.flavour}-${seed}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ["argv.json", "image.erofs", "blob", "tree.tar", "base-tree.tar", "hints"]) if (existsSync(join(work, f))) copyFileSync(join(work, f), join(dir, f));
  writeFileSync(join(dir, "kernel.json"), JSON.stringify(kernel));
  if (again) writeFileSync(join(dir, "kernel-remount.json"), JSON.stringify(again));
  for (const [reader, walk] of walks) writeFileSync(join(dir, `${reader}.json`), JSON.stringify(walk));
  writeFileSync(join(dir, "diff.json"), JSON.stringify({ seed, flavour: s.flavour, args: plan.args, diffs }, null, 1));
  return dir;
}

/** mkfs.erofs's first error line ("<E> ..."), else its last line: 1.5 ends a refusal with its usage text. */
function mkfsComplaint(output: string): string {
  const error = output.split(/[\n\r]/).find((l) => l.includes("<E>"));
  return error ? lastLine(error.replace(/\x1b\[K/g, "")) : lastLine(output);
}

function lastLine(text: string, max = 300): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const l = lines[lines.length - 1] ?? "";
  return l.length > max ? `${l.slice(0, max)}…` : l;
}
