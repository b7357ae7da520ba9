import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { DecompressorConfig } from "@erofs-ts/decompress";
import { ErofsError, type ErofsErrorCode } from "@erofs-ts/format";

/** A fill's pclusters for a worker to help with (see DecodePool.share). */
export interface ShareRequest {
  id: number;
  algorithm: number;
  config: DecompressorConfig;
  /** Identifies `config` so the worker keeps one decoder per image setting. */
  configKey: string;
  /** The next unclaimed job: both sides take jobs by incrementing it. */
  claim: SharedArrayBuffer;
  /** Every job's input, and room for its output (see Arenas). */
  arena: SharedArrayBuffer;
  inputOffsets: number[];
  inputLengths: number[];
  outOffsets: number[];
  outLengths: number[];
  partials: boolean[];
}

/** A job the worker claimed and could not decode. */
export interface ShareFailure {
  index: number;
  /** An ErofsError as plain data: `reason` is its message without `where`. */
  error: { code: ErofsErrorCode; reason: string; where?: string | undefined };
}

/**
 * The worker's one answer for a fill, sent once it claims no more jobs: every job it
 * claimed is decoded into the arena but those in `failed`.
 */
export interface ShareReply {
  id: number;
  failed: ShareFailure[];
}

/** One pcluster of a shared fill. */
export interface ShareJob {
  input: Uint8Array;
  outLength: number;
  partial: boolean;
}

interface Pending {
  done(reply: ShareReply): void;
  /** The worker is gone before answering: the jobs it claimed are decoded here. */
  fail(): void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * Shared memory for a fill's inputs and the worker's outputs, reused from fill to fill.
 * Copying inputs into a new array per fill and receiving each output as a new array cost
 * a page fault per 4 KiB of both (~11 µs each on the VM the benchmarks run on); an arena
 * is touched once. At most ARENAS_KEPT are kept, none larger than ARENA_KEPT_BYTES.
 */
class Arenas {
  readonly #free: SharedArrayBuffer[] = [];

  take(bytes: number): SharedArrayBuffer {
    const i = this.#free.findIndex((a) => a.byteLength >= bytes);
    if (i >= 0) return this.#free.splice(i, 1)[0]!;
    return new SharedArrayBuffer(2 ** Math.ceil(Math.log2(Math.max(bytes, 1 << 16))));
  }

  give(arena: SharedArrayBuffer): void {
    if (arena.byteLength > ARENA_KEPT_BYTES) return;
    this.#free.push(arena);
    if (this.#free.length > ARENAS_KEPT) this.#free.sort((a, b) => b.byteLength - a.byteLength).pop();
  }
}

const ARENAS_KEPT = 2;
const ARENA_KEPT_BYTES = 16 << 20;

/**
 * Worker threads that decode pclusters while the main thread decodes others: a fill that
 * spans several pclusters keeps every core busy. Process-wide and created on first use;
 * idle workers do not keep the process alive.
 */
export class DecodePool {
  readonly #workers: PoolWorker[] = [];
  readonly #arenas = new Arenas();
  #nextId = 1;
  #outstanding = 0;
  #next = 0;

  private constructor(script: string, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script);
      const w: PoolWorker = { worker, pending: new Map() };
      worker.on("message", (reply: ShareReply) => this.#receive(w, reply));
      worker.on("error", () => this.#fail(w));
      worker.on("exit", () => this.#fail(w));
      worker.unref();
      this.#workers.push(w);
    }
  }

  static #shared: DecodePool | null | undefined;

  /**
   * The process's pool, or null where it would not help (one core) or cannot start
   * (the worker script is missing: running from sources without a build).
   */
  static shared(): DecodePool | null {
    if (DecodePool.#shared === undefined) DecodePool.#shared = DecodePool.start(poolSize());
    return DecodePool.#shared;
  }

  /** A pool of `size` workers of its own (tests, with `script` their own worker), or null as for shared(). */
  static start(size: number, script = workerScript()): DecodePool | null {
    if (size < 1 || !script) return null;
    try {
      return new DecodePool(script, size);
    } catch {
      // No worker threads here (a restricted runtime): decoding stays on the main thread.
      return null;
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  /**
   * Decodes `jobs` here and on one worker at once. Both sides take the next job from one
   * counter in shared memory, so neither waits while the other still has work (a split
   * decided in advance left this thread waiting 235 ms of a cold app-a-lzma read for the
   * slower worker; now 81 ms, the rest being the last large pcluster of a fill, which one
   * side decodes alone). One message per fill each way, not one per pcluster. `decodeHere(i)`
   * does job i on this thread; `fromWorker(i, bytes)` receives the worker's jobs once both
   * sides are done. Jobs the worker claimed before it died unanswered are decoded here. A
   * corrupt pcluster rejects, from either side (a worker's is told to `failedInWorker`
   * first). When this thread took every job, nothing waits for the worker.
   */
  async share(
    algorithm: number,
    config: DecompressorConfig,
    configKey: string,
    jobs: readonly ShareJob[],
    decodeHere: (i: number) => void | Promise<void>,
    fromWorker: (i: number, bytes: Uint8Array) => void,
    failedInWorker?: (i: number, error: ErofsError) => void,
  ): Promise<void> {
    const claim = new SharedArrayBuffer(4);
    const next = new Int32Array(claim);
    const w = this.#pick();
    // The worker's answer, or null when it is gone (the jobs it took are then done here).
    let helped: Promise<ShareReply | null> = Promise.resolve(null);
    let request: ShareRequest | undefined;
    if (w) {
      const id = this.#nextId++;
      request = this.#request(id, algorithm, config, configKey, claim, jobs);
      helped = new Promise<ShareReply | null>((resolve) => {
        w.pending.set(id, { done: resolve, fail: () => resolve(null) });
      });
      if (this.#outstanding++ === 0) for (const x of this.#workers) x.worker.ref();
      w.worker.postMessage(request);
    }
    const mine = new Set<number>();
    try {
      try {
        for (let i = Atomics.add(next, 0, 1); i < jobs.length; i = Atomics.add(next, 0, 1)) {
          mine.add(i);
          await decodeHere(i);
        }
      } catch (e) {
        // The worker stops at its next claim; its answer is still awaited so that no job of
        // this fill runs unobserved after the fill has failed (nor writes to a reused arena).
        Atomics.store(next, 0, jobs.length);
        await helped;
        throw e;
      }
      // Every job claimed here: the worker will claim none, so neither the results nor the
      // arena wait for it (it may still be busy with another fill's jobs: the arena is safe
      // to reuse, as a worker touches only the arena of jobs it claimed).
      if (mine.size === jobs.length) return;
      const reply = await helped;
      const failed = new Map(reply?.failed.map((f) => [f.index, f.error]));
      for (let i = 0; i < jobs.length; i++) {
        if (mine.has(i)) continue;
        const e = failed.get(i);
        if (e) {
          const error = toError(e);
          failedInWorker?.(i, error);
          throw error;
        }
        if (reply && request) fromWorker(i, new Uint8Array(request.arena, request.outOffsets[i], request.outLengths[i]));
        else await decodeHere(i);
      }
    } finally {
      if (request) this.#arenas.give(request.arena);
    }
  }

  /** The request for a fill's jobs, their inputs copied into an arena with room for the outputs. */
  #request(id: number, algorithm: number, config: DecompressorConfig, configKey: string, claim: SharedArrayBuffer, jobs: readonly ShareJob[]): ShareRequest {
    const inputOffsets: number[] = [];
    const outOffsets: number[] = [];
    let end = 0;
    for (const j of jobs) {
      inputOffsets.push(end);
      end += j.input.length;
    }
    for (const j of jobs) {
      outOffsets.push(end);
      end += j.outLength;
    }
    const arena = this.#arenas.take(end);
    const bytes = new Uint8Array(arena);
    jobs.forEach((j, i) => bytes.set(j.input, inputOffsets[i]));
    return {
      id,
      algorithm,
      config,
      configKey,
      claim,
      arena,
      inputOffsets,
      inputLengths: jobs.map((j) => j.input.length),
      outOffsets,
      outLengths: jobs.map((j) => j.outLength),
      partials: jobs.map((j) => j.partial),
    };
  }

  /** Stops every worker; fills they were helping finish on the main thread. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  /** The next live worker, round robin, or null when none is left. */
  #pick(): PoolWorker | null {
    const live = this.#workers.filter((w) => w.worker.threadId >= 0);
    return live.length ? live[this.#next++ % live.length]! : null;
  }

  #receive(w: PoolWorker, reply: ShareReply): void {
    const p = w.pending.get(reply.id);
    if (!p) return;
    w.pending.delete(reply.id);
    this.#settled();
    p.done(reply);
  }

  /** A worker died or failed to start (not the image's fault): its fills finish here. */
  #fail(w: PoolWorker): void {
    const idx = this.#workers.indexOf(w);
    if (idx >= 0) this.#workers.splice(idx, 1);
    for (const p of w.pending.values()) {
      this.#settled();
      p.fail();
    }
    w.pending.clear();
  }

  #settled(): void {
    if (--this.#outstanding === 0) for (const x of this.#workers) x.worker.unref();
  }
}

/** The worker's error, as the same ErofsError the main thread would have thrown. */
function toError(e: ShareFailure["error"]): ErofsError {
  return new ErofsError(e.code, e.reason, e.where);
}

/** Two cores decode ~2× as fast; more workers than that have not been measured. */
const MAX_WORKERS = 3;

/**
 * Workers to start: one less than the cores (this thread decodes too), at most
 * MAX_WORKERS. EROFS_TS_DECODE_WORKERS overrides it (0 keeps all decoding on the main
 * thread). Only codecs slow enough to gain are sent (see OFFLOAD in compressed.ts); the
 * workers start on the first fill that has work for them.
 */
function poolSize(): number {
  const env = process.env.EROFS_TS_DECODE_WORKERS;
  if (env !== undefined && /^\d+$/.test(env)) return Math.min(Number(env), 16);
  return Math.min(MAX_WORKERS, availableParallelism() - 1);
}

function workerScript(): string | null {
  // Built: dist/decode-worker.js beside this bundle. From sources (tests): the built one.
  for (const rel of ["./decode-worker.js", "../dist/decode-worker.js"]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}
