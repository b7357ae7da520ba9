import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { checkCli, type CliCheck } from "./cli-check.js";
import { checkFuse, type FuseCheck } from "./fuse-check.js";
import { OP_SLOT_BYTES, OpSlot, describeOp } from "./ops.js";
import { planSeed } from "./plan.js";
import type { RunRequest, RunResult, WorkerInit, WorkerMessage } from "./protocol.js";
import type { FuzzTarget } from "./targets.js";
import { DEFAULT_WALK, type Injection, type Violation, type WalkOptions } from "./walk.js";

export interface FuzzOptions {
  readonly targets: readonly FuzzTarget[];
  readonly seeds: readonly number[];
  readonly workers: number;
  readonly walk?: Partial<WalkOptions>;
  /** Kill a worker whose current operation has run this long (default: the op deadline + 1 s). */
  readonly killAfterMs?: number;
  /** Kill a worker whose mutant has run this long in all (default 120 s). */
  readonly mutantTimeoutMs?: number;
  readonly allocCap?: number;
  /** Heap limit of each worker (MiB). */
  readonly heapMb?: number;
  /** Every Nth seed of the run also goes through erofs-cli (0: never). */
  readonly cliEvery?: number;
  readonly cliPath?: string;
  readonly cliTimeoutMs?: number;
  /** Every Nth seed of the run (counted from the second) is also mounted through erofs-fuse and walked (0: never; needs root). */
  readonly fuseEvery?: number;
  readonly fusePath?: string;
  readonly fuseTimeoutMs?: number;
  readonly inject?: Injection;
  readonly pristine?: boolean;
  /** The worker script (dist/worker.js by default; tests pass the built one). */
  readonly workerScript?: string;
  readonly onResult?: (r: SeedReport) => void;
}

/** What one seed came to: the worker's result (or what the watchdog saw) and the CLI's verdict. */
export interface SeedReport {
  readonly seed: number;
  readonly target: string;
  readonly outcome: "ok" | "refused" | "typed" | "killed";
  readonly mutation: readonly string[];
  readonly violations: readonly Violation[];
  readonly typed: Record<string, number>;
  readonly refusal?: string | undefined;
  readonly ms: number;
  readonly ops: number;
  readonly budgetHit: boolean;
  readonly cli?: CliCheck | undefined;
  readonly fuse?: FuseCheck | undefined;
}

export interface FuzzSummary {
  readonly mutants: number;
  readonly ok: number;
  readonly refused: number;
  readonly typed: number;
  readonly killed: number;
  readonly violations: number;
  readonly cliRuns: number;
  readonly fuseRuns: number;
  readonly budgetHits: number;
  readonly typedCodes: Record<string, number>;
  readonly seconds: number;
  readonly reports: readonly SeedReport[];
}

/** Above this much declared file content a mutant is not run through erofs-cli fsck. */
const CLI_FSCK_MAX_BYTES = 512 << 20;

export const DEFAULT_WORKER_SCRIPT = fileURLToPath(new URL("./worker.js", import.meta.url));

interface Slot {
  worker: Worker;
  op: OpSlot;
  busy: { seed: number; started: number; resolve: (r: RunResult | null, v?: Violation) => void } | null;
  ready: Promise<void>;
  /** Exited or terminated: the lane spawns a fresh one before its next seed. */
  dead: boolean;
}

/**
 * Runs seeds through a pool of worker threads. A worker that overruns (one operation past
 * killAfterMs, or a whole mutant past mutantTimeoutMs), runs out of heap or dies is
 * terminated and replaced, and the seed is recorded with the operation it was in: a
 * synchronous infinite loop cannot be raced from inside, only ended from outside.
 */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const t0 = Date.now();
  const walk: WalkOptions = { ...DEFAULT_WALK, ...opts.walk };
  const killAfter = opts.killAfterMs ?? walk.opDeadlineMs + 1000;
  const mutantTimeout = opts.mutantTimeoutMs ?? 120_000;
  const script = opts.workerScript ?? DEFAULT_WORKER_SCRIPT;
  const scratch = opts.cliEvery || opts.fuseEvery ? mkdtempSync(join(tmpdir(), "erofs-fuzz-")) : null;
  const slots: Slot[] = [];

  const spawn = (): Slot => {
    const sab = new SharedArrayBuffer(OP_SLOT_BYTES);
    const init: WorkerInit = { targets: opts.targets, slot: sab, walk, allocCap: opts.allocCap ?? 64 << 20 };
    const worker = new Worker(script, {
      workerData: init,
      resourceLimits: { maxOldGenerationSizeMb: opts.heapMb ?? 1024 },
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, op: new OpSlot(sab), busy: null, ready: Promise.resolve(), dead: false };
    slot.ready = new Promise((resolve) => {
      const onReady = (m: WorkerMessage) => {
        if (m.type === "ready") {
          worker.off("message", onReady);
          resolve();
        }
      };
      worker.on("message", onReady);
    });
    worker.on("message", (m: WorkerMessage) => {
      if (m.type === "result" && slot.busy) {
        const b = slot.busy;
        slot.busy = null;
        b.resolve(m.result);
      }
    });
    const died = (detail: string, kind: Violation["kind"]) => {
      slot.dead = true;
      if (!slot.busy) return;
      const b = slot.busy;
      slot.busy = null;
      b.resolve(null, { kind, op: currentOp(slot), detail });
    };
    worker.on("error", (e: Error & { code?: string }) => {
      const oom = e.code === "ERR_WORKER_OUT_OF_MEMORY" || /allocation failed|out of memory/i.test(e.message);
      died(`${e.name}: ${e.message}\n${e.stack ?? ""}`, oom ? "oom" : "crash");
    });
    worker.on("exit", (code) => died(`worker exited with code ${code}`, "crash"));
    return slot;
  };

  const currentOp = (slot: Slot): string => {
    const c = slot.op.current(Date.now());
    return c ? describeOp(c.op, c.nid, c.arg) : "(between operations)";
  };

  for (let i = 0; i < Math.max(1, opts.workers); i++) slots.push(spawn());

  const watchdog = setInterval(() => {
    const now = Date.now();
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (!s.busy) continue;
      const c = s.op.current(now);
      let v: Violation | null = null;
      if (c && c.ms > killAfter) {
        v = { kind: "hang", op: describeOp(c.op, c.nid, c.arg), detail: `no answer after ${Math.round(c.ms)} ms: worker killed` };
      } else if (now - s.busy.started > mutantTimeout) {
        v = { kind: "timeout", op: currentOp(s), detail: `mutant still running after ${mutantTimeout} ms: worker killed` };
      }
      if (v) {
        const b = s.busy;
        s.busy = null;
        s.dead = true;
        void s.worker.terminate();
        b.resolve(null, v);
      }
    }
  }, 100);

  const reports: SeedReport[] = [];
  /** Each seed's erofs-cli and erofs-fuse checks, when it has any: its report is complete once they are. */
  const childJobs = new Map<number, Promise<void>>();
  // One child check at a time: they are whole-image walks, and the workers need the cores.
  let childRunning = Promise.resolve();
  let next = 0;

  const runOne = (slotIndex: number, seed: number, index: number): Promise<SeedReport> =>
    new Promise((resolve) => {
      const s = slots[slotIndex]!;
      const withCli = Boolean(opts.cliEvery && opts.cliPath && index % opts.cliEvery === 0);
      // Offset by one from the CLI's picks, so that the two checks meet different mutants.
      const withFuse = Boolean(opts.fuseEvery && opts.fusePath && index % opts.fuseEvery === 1 % opts.fuseEvery);
      const req: RunRequest = {
        seed,
        writeTo: withCli || withFuse ? join(scratch!, `mutant-${seed}.erofs`) : undefined,
        inject: opts.inject,
        pristine: opts.pristine,
      };
      const started = Date.now();
      s.busy = {
        seed,
        started,
        resolve: (r, v) => {
          const target = opts.targets[planSeed(seed, opts.targets.length).target]!.name;
          const report: SeedReport = r
            ? {
                seed, target: r.target, outcome: r.outcome, mutation: r.mutation, violations: r.violations, typed: r.typed,
                refusal: r.refusal, ms: r.ms, ops: r.ops, budgetHit: r.budgetHit,
              }
            : { seed, target, outcome: "killed", mutation: [], violations: [v!], typed: {}, ms: Date.now() - started, ops: 0, budgetHit: false };
          if (r?.written) {
            const written = r.written;
            const job = (childRunning = childRunning.then(async () => {
              const violations = report.violations as Violation[];
              if (withCli) {
                // fsck reads every byte: a mutant whose files declare gigabytes (a sparse size, a
                // corrupt i_size over holes) is valid work for minutes, not a hang. Those get ls -R only.
                const skipFsck = r.declaredBytes > CLI_FSCK_MAX_BYTES;
                const cli = await checkCli(opts.cliPath!, written, opts.cliTimeoutMs ?? 60_000, skipFsck);
                (report as { cli?: CliCheck }).cli = cli;
                violations.push(...cli.violations);
              }
              if (withFuse) {
                const fuse = await checkFuse(opts.fusePath!, written, seed, opts.fuseTimeoutMs ?? 60_000);
                (report as { fuse?: FuseCheck }).fuse = fuse;
                violations.push(...fuse.violations);
              }
              for (const f of [written.image, ...written.devices.filter((d) => d.startsWith(scratch!))]) rmSync(f, { force: true });
            }));
            childJobs.set(seed, job);
          }
          resolve(report);
        },
      };
      s.worker.postMessage(req);
    });

  const lane = async (slotIndex: number): Promise<void> => {
    for (;;) {
      const index = next++;
      if (index >= opts.seeds.length) return;
      if (slots[slotIndex]!.dead) slots[slotIndex] = spawn();
      await slots[slotIndex]!.ready;
      const report = await runOne(slotIndex, opts.seeds[index]!, index);
      reports.push(report);
      // Told once complete; the lane goes on with its next seed meanwhile.
      const checks = childJobs.get(report.seed);
      if (checks) childJobs.set(report.seed, checks.then(() => opts.onResult?.(report)));
      else opts.onResult?.(report);
    }
  };

  try {
    await Promise.all(slots.map((_, i) => lane(i)));
    await Promise.all(childJobs.values());
  } finally {
    clearInterval(watchdog);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  reports.sort((a, b) => a.seed - b.seed);
  const typedCodes: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.typed)) typedCodes[k] = (typedCodes[k] ?? 0) + v;
  return {
    mutants: reports.length,
    ok: reports.filter((r) => r.outcome === "ok").length,
    refused: reports.filter((r) => r.outcome === "refused").length,
    typed: reports.filter((r) => r.outcome === "typed").length,
    killed: reports.filter((r) => r.outcome === "killed").length,
    violations: reports.reduce((n, r) => n + r.violations.length, 0),
    cliRuns: reports.filter((r) => r.cli).length,
    fuseRuns: reports.filter((r) => r.fuse).length,
    budgetHits: reports.filter((r) => r.budgetHit).length,
    typedCodes,
    seconds: (Date.now() - t0) / 1000,
    reports,
  };
}
