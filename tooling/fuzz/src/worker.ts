import { installAllocGuard } from "./alloc-guard.js";
import { workerData } from "node:worker_threads";
import type { WorkerInit } from "./protocol.js";

// The guard must be in place before the vfs and its codecs load (some of them keep their
// own reference to Uint8Array), so everything else is imported after it, dynamically.
installAllocGuard((workerData as WorkerInit).allocCap);
await import("./worker-loop.js");
