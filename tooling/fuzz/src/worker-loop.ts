import { readFileSync, writeFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { MemorySource } from "@erofs-ts/blockdev";
import { mount } from "@erofs-ts/vfs";
import { takeTrips } from "./alloc-guard.js";
import { buildFieldMap, type FieldMap } from "./field-map.js";
import { mutate, type Mutant } from "./mutate.js";
import { OpSlot } from "./ops.js";
import { planSeed } from "./plan.js";
import type { RunRequest, RunResult, WorkerInit, WorkerMessage } from "./protocol.js";
import { ContractWalk, type Violation } from "./walk.js";

/**
 * The worker side: builds the mutant for a seed, mounts it from memory and walks it,
 * posting one result per seed. Images and their field maps are cached (a few at a time:
 * the real/ images are tens of megabytes).
 */
const init = workerData as WorkerInit;
const slot = new OpSlot(init.slot);
const port = parentPort!;

interface Loaded {
  readonly bytes: Uint8Array;
  readonly map: FieldMap;
}
const loaded = new Map<number, Loaded>();
const deviceCache = new Map<string, Uint8Array>();
const CACHED_IMAGES = 6;

async function load(index: number): Promise<Loaded> {
  let l = loaded.get(index);
  if (l) {
    loaded.delete(index);
    loaded.set(index, l);
    return l;
  }
  const t = init.targets[index]!;
  const bytes = readFileSync(t.path);
  const map = await buildFieldMap(bytes, t.devices, t.fsoffset);
  takeTrips(); // a valid image's walk; whatever it allocated is not a mutant's fault
  l = { bytes, map };
  loaded.set(index, l);
  if (loaded.size > CACHED_IMAGES) loaded.delete(loaded.keys().next().value!);
  return l;
}

function loadDevice(path: string): Uint8Array {
  let d = deviceCache.get(path);
  if (!d) deviceCache.set(path, (d = readFileSync(path)));
  return d;
}

/** Rejections nobody handled while a mutant ran: a promise the vfs let go of. */
let stray: Violation[] = [];
let current: ContractWalk | null = null;
process.on("unhandledRejection", (reason) => {
  const e = reason as Error;
  const op = current ? `${current.lastOp()} (or an earlier one)` : "(between mutants)";
  stray.push({ kind: "unhandled", op, detail: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(reason) });
});

async function run(req: RunRequest): Promise<RunResult> {
  const t0 = performance.now();
  const { rng, target } = planSeed(req.seed, init.targets.length);
  const t = init.targets[target]!;
  slot.begin("build mutant", -1n, 0);
  const { bytes, map } = await load(target);
  const mutant: Mutant = req.pristine
    ? { bytes, devices: t.devices, fsoffset: t.fsoffset, log: ["(pristine image)"] }
    : mutate(rng, { image: bytes, devices: t.devices, fsoffset: t.fsoffset, map, loadDevice });
  slot.end();
  let written: RunResult["written"];
  if (req.writeTo) {
    writeFileSync(req.writeTo, mutant.bytes);
    const devs = mutant.devices.map((d, i) => {
      if (typeof d === "string") return d;
      const p = `${req.writeTo}.dev${i}`;
      writeFileSync(p, d);
      return p;
    });
    written = { image: req.writeTo, devices: devs, fsoffset: mutant.fsoffset };
  }
  stray = [];
  const walk = (current = new ContractWalk(slot, { ...init.walk, inject: req.inject }));
  const result = await walk.run(() =>
    mount(new MemorySource(mutant.bytes, `mutant ${req.seed}`), {
      devices: mutant.devices.map((d) => (typeof d === "string" ? d : new MemorySource(d, "mutant device"))),
      fsoffset: mutant.fsoffset,
      cacheBytes: 16 << 20,
      metadataCacheBytes: 4 << 20,
    }),
  );
  // Let rejections that are already queued surface before the verdict.
  await new Promise((r) => setImmediate(r));
  result.violations.push(...stray);
  return { ...result, seed: req.seed, target: t.name, mutation: mutant.log, ms: performance.now() - t0, written };
}

port.on("message", (req: RunRequest) => {
  run(req).then(
    (result) => port.postMessage({ type: "result", result } satisfies WorkerMessage),
    (e: unknown) => {
      // A failure of the fuzzer itself (an unreadable image): report it as such, never silently.
      const err = e as Error;
      const result: RunResult = {
        seed: req.seed, target: "?", mutation: [], ms: 0, outcome: "typed", typed: {}, ops: 0, bytesRead: 0, declaredBytes: 0, budgetHit: false,
        violations: [{ kind: "crash", op: "fuzzer", detail: `${err?.name}: ${err?.message}\n${err?.stack ?? ""}` }],
      };
      port.postMessage({ type: "result", result } satisfies WorkerMessage);
    },
  );
});
port.postMessage({ type: "ready" } satisfies WorkerMessage);
