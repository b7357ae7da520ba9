import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { DecompressorConfig } from "@erofs-ts/decompress";
import { ErofsError, type ErofsErrorCode } from "@erofs-ts/format";

/** One pcluster to decode on a worker. */
export interface DecodeJob {
  id: number;
  algorithm: number;
  config: DecompressorConfig;
  /** Identifies `config` so the worker keeps one decoder per image setting. */
  configKey: string;
  input: Uint8Array;
  outLength: number;
  partial: boolean;
}

export interface DecodeReply {
  id: number;
  out?: Uint8Array;
  error?: { code: ErofsErrorCode; message: string; where?: string | undefined };
}

interface Pending {
  resolve(out: Uint8Array): void;
  reject(e: unknown): void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * Worker threads that decode pclusters while the main thread decodes others: a fill that
 * spans several pclusters keeps every core busy. Process-wide and created on first use;
 * idle workers do not keep the process alive.
 */
export class DecodePool {
  readonly #workers: PoolWorker[] = [];
  #nextId = 1;
  #outstanding = 0;
  #next = 0;

  private constructor(script: string, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script);
      const w: PoolWorker = { worker, pending: new Map() };
      worker.on("message", (reply: DecodeReply) => this.#settle(w, reply));
      worker.on("error", (e) => this.#fail(w, e));
      worker.on("exit", () => this.#fail(w, new ErofsError("EIO", "decode worker exited")));
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

  /** A pool of `size` workers of its own (tests), or null as for shared(). */
  static start(size: number): DecodePool | null {
    const script = workerScript();
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

  /** Decodes `input` on a worker into a new array of `outLength` bytes. */
  decode(algorithm: number, config: DecompressorConfig, configKey: string, input: Uint8Array, outLength: number, partial: boolean): Promise<Uint8Array> {
    const live = this.#workers.filter((w) => w.worker.threadId >= 0);
    if (!live.length) return Promise.reject(new ErofsError("EIO", "no decode worker"));
    const w = live[this.#next++ % live.length]!;
    const id = this.#nextId++;
    // A copy: `input` is usually a view into a read shared by neighbouring pclusters.
    const copy = input.slice();
    const job: DecodeJob = { id, algorithm, config, configKey, input: copy, outLength, partial };
    return new Promise<Uint8Array>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      if (this.#outstanding++ === 0) for (const x of this.#workers) x.worker.ref();
      w.worker.postMessage(job, [copy.buffer as ArrayBuffer]);
    });
  }

  /** Stops every worker; jobs still pending fail with EIO (callers then decode themselves). */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  #settle(w: PoolWorker, reply: DecodeReply): void {
    const p = w.pending.get(reply.id);
    if (!p) return;
    w.pending.delete(reply.id);
    this.#done();
    if (reply.out) p.resolve(reply.out);
    else {
      const e = reply.error!;
      const suffix = e.where ? ` (${e.where})` : "";
      const message = suffix && e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
      p.reject(new ErofsError(e.code, message, e.where));
    }
  }

  #fail(w: PoolWorker, e: unknown): void {
    const idx = this.#workers.indexOf(w);
    if (idx >= 0) this.#workers.splice(idx, 1);
    for (const p of w.pending.values()) {
      this.#done();
      p.reject(e instanceof ErofsError ? e : new ErofsError("EIO", `decode worker failed: ${(e as Error)?.message ?? e}`));
    }
    w.pending.clear();
  }

  #done(): void {
    if (--this.#outstanding === 0) for (const x of this.#workers) x.worker.unref();
  }
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
