/** The two timer functions every JavaScript host has (Node, Deno, Bun, browsers). */
interface HostTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Longer than any load takes: the timer never fires, it is only there to be pending. */
const NEVER_MS = 2 ** 30;

/**
 * Settles as `pending` settles, with a referenced timer held on the host's event loop
 * until then.
 *
 * Why: an asynchronous WebAssembly instantiation (zstddec, xxhash-wasm) settles through a
 * task of the JavaScript engine, not through an I/O event. A reader whose image reads are
 * synchronous has nothing else pending, so Node 20 finds its event loop empty and blocks
 * until the engine's background tasks are done (NodePlatform::DrainTasks). When one of
 * those, an optimizing compile, is waiting for a garbage collection only the main thread
 * can run, neither side moves and the process hangs with no CPU (nodejs/node#54918; seen
 * here in about one run of ten of a whole-image read of app-a-zstd). With a timer pending,
 * the loop polls instead, and the engine's task wakes it like any other event.
 */
export function holdingEventLoop<T>(pending: Promise<T>): Promise<T> {
  const timers = globalThis as unknown as Partial<HostTimers>;
  if (typeof timers.setInterval !== "function" || typeof timers.clearInterval !== "function") return pending;
  const handle = timers.setInterval(() => {}, NEVER_MS);
  const release = () => timers.clearInterval!(handle);
  pending.then(release, release);
  return pending;
}
