import { ErofsError, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { takeTrips } from "./alloc-guard.js";
import { describeOp, type OpName, type OpSlot } from "./ops.js";

/** A breach of the contract: anything but a typed error, too slow, too much memory. */
export interface Violation {
  readonly kind: "exception" | "slow" | "alloc" | "hang" | "oom" | "crash" | "unhandled" | "cli" | "fuse" | "timeout";
  /** The operation, e.g. "read nid 36 @262144". */
  readonly op: string;
  readonly detail: string;
}

export interface WalkResult {
  /** refused: mount failed with a typed error; typed: the walk met typed errors; ok: none. */
  readonly outcome: "ok" | "refused" | "typed";
  /** The mount's typed error, for refused mutants. */
  readonly refusal?: string;
  /** Typed errors met during the walk, by code. */
  readonly typed: Record<string, number>;
  readonly violations: Violation[];
  readonly ops: number;
  readonly bytesRead: number;
  /** Sum of the sizes of the regular files met: what a full read (erofs-cli fsck) would cost. */
  readonly declaredBytes: number;
  /** The walk stopped at a budget (entries or bytes), not at the end of the tree. */
  readonly budgetHit: boolean;
}

/** A deliberate fault, for the harness's own test: proves each kind of violation is caught. */
export type Injection = "throw" | "hang" | "spin" | "alloc" | "slow" | "unhandled";

export interface WalkOptions {
  /** The contract's per-operation limit. */
  readonly opDeadlineMs: number;
  /** A file is read whole up to this many bytes; beyond, its start, end and samples are read. */
  readonly maxReadPerFile: number;
  readonly maxBytesPerMutant: number;
  readonly maxEntriesPerMutant: number;
  readonly inject?: Injection | undefined;
}

export const DEFAULT_WALK: WalkOptions = {
  opDeadlineMs: 2000,
  maxReadPerFile: 16 << 20,
  maxBytesPerMutant: 256 << 20,
  maxEntriesPerMutant: 200_000,
};

const CHUNK = 256 << 10;
/** Extents of one file mapped (erofs-cli map) before the walk moves on. */
const MAX_EXTENTS = 4096;
/** What following a symlink may answer on a valid image: dangling, looping, through a file. */
const FOLLOW_ANSWERS = ["ENOENT", "ELOOP", "ENOTDIR", "ENAMETOOLONG"];
/** SEEK_DATA in a file of only holes. */
const SEEK_ANSWERS = ["ENXIO"];
const FAILED = Symbol("failed");
type Failed = typeof FAILED;

/**
 * Walks a mounted image completely: every directory is read (with . and ..), every entry's
 * inode loaded, looked up by name and stat'ed, every inode's xattrs listed and read, every
 * symlink read and followed, every file read. Directories are entered once per nid, so
 * cyclic dirents end the walk instead of looping. Each call into the vfs is one operation:
 * timed, published to the watchdog, and its outcome classified.
 */
export class ContractWalk {
  readonly violations: Violation[] = [];
  readonly typed: Record<string, number> = {};
  ops = 0;
  /** Errors that are ordinary answers for a valid image too (ENOENT from following a symlink). */
  answers = 0;
  bytesRead = 0;
  declaredBytes = 0;
  budgetHit = false;
  /** The operation running or last run: where a stray rejection most likely came from. */
  lastOp: () => string = () => "(before mount)";
  #entries = 0;

  constructor(
    readonly slot: OpSlot,
    readonly options: WalkOptions,
  ) {}

  /** Runs one operation; FAILED when it threw (typed or not: either way the walk goes around it). */
  async op<T>(name: OpName, nid: bigint, arg: number, fn: () => Promise<T> | T, normal: readonly string[] = []): Promise<T | Failed> {
    this.ops++;
    const where = () => describeOp(name, nid, arg);
    this.lastOp = where;
    this.slot.begin(name, nid, arg);
    const t0 = performance.now();
    let result: T | Failed = FAILED;
    try {
      result = await fn();
    } catch (e) {
      if (ErofsError.isInstance(e) && normal.includes(e.code)) this.answers++;
      else this.#classify(e, where());
    } finally {
      this.slot.end();
    }
    const ms = performance.now() - t0;
    if (ms > this.options.opDeadlineMs) {
      this.violations.push({ kind: "slow", op: where(), detail: `took ${Math.round(ms)} ms (limit ${this.options.opDeadlineMs})` });
    }
    for (const t of takeTrips()) {
      this.violations.push({ kind: "alloc", op: where(), detail: `${t.type} of ${t.bytes} bytes\n${trimStack(t.stack)}` });
    }
    return result;
  }

  #classify(e: unknown, op: string): void {
    if (ErofsError.isInstance(e)) {
      this.typed[e.code] = (this.typed[e.code] ?? 0) + 1;
      return;
    }
    const err = e as Error;
    const detail = err instanceof Error ? `${err.name}: ${err.message}\n${trimStack(err.stack ?? "")}` : `non-Error thrown: ${String(e)}`;
    this.violations.push({ kind: "exception", op, detail });
  }

  async run(mountIt: () => Promise<ErofsFs>): Promise<WalkResult> {
    let refusal: string | undefined;
    const fs = await this.op("mount", -1n, 0, async () => {
      try {
        return await mountIt();
      } catch (e) {
        if (ErofsError.isInstance(e)) refusal = `${e.code}: ${e.message}`;
        throw e;
      }
    });
    if (fs === FAILED) {
      return this.#result(refusal !== undefined ? "refused" : "typed", refusal);
    }
    await this.#inject(fs);
    await this.op("statfs", -1n, 0, () => fs.statfs());
    const root = await this.op("root", -1n, 0, () => fs.root());
    if (root !== FAILED) await this.#walkFrom(fs, root);
    await this.op("unmount", -1n, 0, () => fs.unmount());
    return this.#result(Object.keys(this.typed).length ? "typed" : "ok");
  }

  #result(outcome: WalkResult["outcome"], refusal?: string): WalkResult {
    return {
      outcome,
      ...(refusal !== undefined ? { refusal } : {}),
      typed: this.typed,
      violations: this.violations,
      ops: this.ops,
      bytesRead: this.bytesRead,
      declaredBytes: this.declaredBytes,
      budgetHit: this.budgetHit,
    };
  }

  async #walkFrom(fs: ErofsFs, root: Inode): Promise<void> {
    const seen = new Set<bigint>([root.nid]);
    const dirs: Array<{ inode: Inode; path: Uint8Array }> = [{ inode: root, path: new Uint8Array(0) }];
    await this.#visit(fs, root, new Uint8Array(0));
    while (dirs.length) {
      const { inode: dir, path } = dirs.shift()!;
      const entries = await this.op("readdir", dir.nid, 0, () => fs.readdir(dir, { dots: true }));
      if (entries === FAILED) continue;
      for (const e of entries) {
        if (++this.#entries > this.options.maxEntriesPerMutant) {
          this.budgetHit = true;
          return;
        }
        const inode = await this.op("iget", e.nid, 0, () => fs.iget(e.nid));
        if (inode === FAILED) continue;
        const isDots = (e.name.length === 1 && e.name[0] === 0x2e) || (e.name.length === 2 && e.name[0] === 0x2e && e.name[1] === 0x2e);
        if (!isDots) await this.op("lookupChild", dir.nid, 0, () => fs.lookupChild(dir, e.name));
        if (seen.has(inode.nid)) continue;
        seen.add(inode.nid);
        const childPath = joinPath(path, e.name);
        await this.#visit(fs, inode, childPath);
        if (inode.kind === "dir") dirs.push({ inode, path: childPath });
        if (this.bytesRead > this.options.maxBytesPerMutant) {
          this.budgetHit = true;
          return;
        }
      }
    }
  }

  async #visit(fs: ErofsFs, inode: Inode, path: Uint8Array): Promise<void> {
    const nid = inode.nid;
    await this.op("stat", nid, 0, () => fs.stat(inode));
    const names = await this.op("listxattr", nid, 0, () => fs.listxattr(inode));
    if (names !== FAILED) for (const n of names) await this.op("getxattr", nid, 0, () => fs.getxattr(inode, n));
    if (inode.kind === "file") {
      await this.op("fingerprint", nid, 0, () => fs.fingerprint(inode));
      await this.#readFile(fs, inode);
    } else if (inode.kind === "dir") {
      await this.#mapExtents(fs, inode);
    } else if (inode.kind === "symlink") {
      await this.op("readlink", nid, 0, () => fs.readlink(inode));
      await this.op("lookup(follow)", nid, 0, () => fs.lookup(path, { follow: true }), FOLLOW_ANSWERS);
    }
  }

  async #readFile(fs: ErofsFs, inode: Inode): Promise<void> {
    const nid = inode.nid;
    const size = inode.size;
    this.declaredBytes += size;
    const whole = size <= this.options.maxReadPerFile;
    const offsets: number[] = [];
    if (whole) for (let p = 0; p < size; p += CHUNK) offsets.push(p);
    else {
      // A file larger than the budget (a huge sparse file, or a corrupt i_size): its start,
      // its last chunk and evenly spaced samples between.
      for (let p = 0; p < this.options.maxReadPerFile / 2; p += CHUNK) offsets.push(p);
      for (let k = 1; k <= 8; k++) offsets.push(Math.floor((size / 9) * k));
      offsets.push(Math.max(0, size - CHUNK));
    }
    for (const pos of offsets) {
      const got = await this.op("read", nid, pos, () => fs.read(inode, pos, CHUNK));
      if (got === FAILED) return; // one failure per file is enough; the rest would repeat it
      this.bytesRead += got.length;
    }
    if (size > 0) {
      await this.op("seek", nid, 0, () => fs.seek(inode, 0, false), SEEK_ANSWERS);
      await this.op("seek", nid, 0, () => fs.seek(inode, 0, true), SEEK_ANSWERS);
      await this.#mapExtents(fs, inode);
    }
  }

  /** erofs-cli map's walk over a file's or directory's extents. */
  async #mapExtents(fs: ErofsFs, inode: Inode): Promise<void> {
    await this.op("extents", inode.nid, 0, async () => {
      // A damaged chunk table can give a huge file an extent per chunk: its first ones.
      let n = 0;
      for await (const _ of fs.extents(inode)) if (++n >= MAX_EXTENTS) break;
    });
  }

  async #inject(fs: ErofsFs): Promise<void> {
    const what = this.options.inject;
    if (!what) return;
    await this.op("inject", -1n, 0, async () => {
      switch (what) {
        case "throw":
          throw new TypeError("injected: not a typed error");
        case "hang":
          await new Promise<never>(() => {}); // never settles: only the watchdog ends this
          break;
        case "spin":
          for (;;) if (fs.statfs().bsize < 0) break; // a synchronous loop no timer can interrupt
          break;
        case "alloc":
          void new Uint8Array(1 << 30);
          break;
        case "slow":
          await new Promise((r) => setTimeout(r, this.options.opDeadlineMs + 200));
          break;
        case "unhandled":
          void Promise.reject(new TypeError("injected: a rejection nobody handles"));
          await new Promise((r) => setTimeout(r, 20));
          break;
      }
    });
  }
}

function joinPath(parent: Uint8Array, name: Uint8Array): Uint8Array {
  if (!parent.length) return name;
  const out = new Uint8Array(parent.length + 1 + name.length);
  out.set(parent);
  out[parent.length] = 0x2f;
  out.set(name, parent.length + 1);
  return out;
}

function trimStack(stack: string): string {
  return stack
    .split("\n")
    .filter((l) => /^\s+at /.test(l))
    .slice(0, 8)
    .join("\n");
}
