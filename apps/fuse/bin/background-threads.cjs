"use strict";
// Lowers the scheduling priority of the threads V8 runs its background work on, so that
// on a busy machine the threads serving requests get the CPU first.
//
// Why: a fresh daemon's first walk of app-a-lz4 costs ~0.35 s of CPU on V8's worker
// threads (optimizing compiles of the request path, concurrent GC), beside ~0.45 s on the
// main thread, in a 0.7 s walk on a 2-core VM. At equal priority those compiles hold a
// core the woken reader and the kernel's side of each request then wait for. At nice 19
// they still run whenever a core is free, so nothing is compiled later on an idle
// machine. Measured (10 interleaved rounds, fresh daemon, cold page cache): first walks
// of app-a-lz4 104 -> 115 MB/s (medians), second walks 169 -> 180.
//
// Not where the process may run on one CPU only (taskset, cpusets): there the compiles get
// no time while requests keep coming, and the request path stays unoptimized. Daemon and
// reader pinned to one vCPU (6 interleaved rounds): first walks 80 -> 103 MB/s, but
// second walks 175 -> 135, and a service lives on its later walks.
//
// Which threads: those that exist when this runs, before the program is imported. They
// are Node's platform threads (V8's workers and the delayed-task scheduler, which only
// sleeps). libuv's thread pool (the image reads) and worker threads start later, from the
// main thread, and so keep its priority: Linux gives a new thread its creator's nice value.

const { readdirSync } = require("node:fs");
const { availableParallelism, setPriority } = require("node:os");

/** The nice value given to the background threads: the lowest priority there is. */
const BACKGROUND_NICE = 19;

/**
 * Lowers the priority of every thread of this process but the main one, where it may run
 * on two CPUs or more; returns how many threads it lowered.
 */
function lowerBackgroundThreads() {
  if (availableParallelism() < 2) return 0;
  let tids;
  try {
    tids = readdirSync("/proc/self/task").map(Number);
  } catch {
    // No /proc (not Linux): the threads keep their priority.
    return 0;
  }
  let lowered = 0;
  for (const tid of tids) {
    if (tid === process.pid) continue;
    try {
      // On Linux a thread id names that thread alone.
      setPriority(tid, BACKGROUND_NICE);
      lowered++;
    } catch {
      // Gone already, or refused: priority is advice here, never a reason to fail.
    }
  }
  return lowered;
}

module.exports = { lowerBackgroundThreads };
