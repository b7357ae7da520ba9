import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism, getPriority } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, daemonPerTest } from "./harness.js";

if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const demo = join(repoRoot(), "fixtures/demo.erofs");
const backgroundThreads = join(repoRoot(), "apps/fuse/bin/background-threads.cjs");
const multiCpu = availableParallelism() >= 2;
// Started at the lowest priority already, lowered threads cannot be told from the others.
const lowestAlready = getPriority() === 19;
if (!multiCpu || lowestAlready) console.log("erofs-fuse thread priority tests skipped: they need two CPUs and a test run above nice 19");

interface ThreadNice {
  readonly tid: number;
  readonly nice: number;
}

/** Each thread of a process with its nice value, from /proc (field 19 of its stat line). */
function threadNices(pid: number): ThreadNice[] {
  return readdirSync(`/proc/${pid}/task`).map((t) => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { tid: Number(t), nice: Number(fields[16]) };
  });
}

/** A variable of the environment a process started with. */
function startEnv(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/**
 * V8's background threads (compiles, concurrent GC) yield to the threads that serve
 * requests: the main thread and libuv's pool, which reads the image.
 */
describe.skipIf(!FUSE_AVAILABLE || !multiCpu || lowestAlready)("erofs-fuse thread priorities", () => {
  const slot = daemonPerTest();

  it("runs V8's threads at nice 19 and the main thread and the thread pool at the priority it was started with", async () => {
    const daemon = (slot.daemon = await FuseDaemon.start([{ image: demo }]));
    // A served read: the pool has started (the mount's image reads run on it).
    expect(readdirSync(daemon.mountpoints[0]!).length).toBeGreaterThan(0);
    const threads = threadNices(daemon.pid).sort((a, b) => a.tid - b.tid);
    const main = threads.find((t) => t.tid === daemon.pid)!;
    const started = getPriority();
    expect(main.nice).toBe(started);
    const others = threads.filter((t) => t.tid !== daemon.pid);
    const lowered = others.filter((t) => t.nice === 19);
    const serving = others.filter((t) => t.nice === started);
    // Node's platform starts four V8 workers by default, besides its delayed-task thread.
    expect(lowered.length).toBeGreaterThanOrEqual(4);
    // Every thread is one or the other, and the pool's threads are all it started later.
    expect(lowered.length + serving.length).toBe(others.length);
    expect(serving.length).toBe(Number(startEnv(daemon.pid, "UV_THREADPOOL_SIZE")));
    expect(Math.max(...lowered.map((t) => t.tid))).toBeLessThan(Math.min(...serving.map((t) => t.tid)));
  });
});

/** How many threads lowerBackgroundThreads lowers in a new Node process, run with `prefix` (e.g. taskset). */
function loweredIn(prefix: readonly string[]): number {
  const script = `process.stdout.write(String(require(${JSON.stringify(backgroundThreads)}).lowerBackgroundThreads()))`;
  const [command, ...args] = [...prefix, process.execPath, "-e", script];
  return Number(execFileSync(command!, args, { encoding: "utf8" }));
}

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
})();
if (!hasTaskset) console.log("the one-CPU test of lowering V8's threads skipped: it needs taskset (util-linux)");

describe.skipIf(!multiCpu || lowestAlready || !hasTaskset)("lowering V8's threads", () => {
  it("lowers them where the process may use two CPUs, and leaves them be where it may use one", () => {
    expect(loweredIn([])).toBeGreaterThanOrEqual(4);
    expect(loweredIn(["taskset", "-c", "0"])).toBe(0);
  });
});
