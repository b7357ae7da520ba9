import { constants, existsSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The native part (`native/erofs-fuse-native.c`): a uv_poll handle on the event loop, and malloc_trim. */
export interface NativePart {
  /** Returns free malloc memory to the system; true when some was released. */
  trimHeap(): boolean;
  /** posix_fadvise DONTNEED on a file range (length 0: to the end); false when the kernel refused it. */
  dropPages(fd: number, offset: number, length: number): boolean;
  /** Two connected unix stream sockets. */
  socketPair(): [number, number];
  /** The descriptor the peer sent with SCM_RIGHTS, made non-blocking on request. */
  receiveFd(socket: number, nonBlocking: boolean): number;
  /** _exit(2): ends the process at once, without process.exit's join of V8's threads (see endServing in main.ts). */
  exitNow(code: number): never;
  /** When `isIdle()` holds after `onReady`, the poller looks for the next request for up to `spinMicros`. */
  watch(fd: number, onReady: (status: number) => void, isIdle: () => boolean, spinMicros: number): { close(): void };
}

/** Where `scripts/build-native.mjs` puts the addon, relative to the package root. */
export const NATIVE_PATH = "build/erofs-fuse-native.node";

let loaded: NativePart | null | undefined;

/** The native part, or null when it was not built (no C compiler or Node headers). */
export function nativePart(): NativePart | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const path = findPackageFile(NATIVE_PATH);
  if (path) {
    try {
      loaded = createRequire(import.meta.url)(path) as NativePart;
    } catch {
      // Built for another Node or platform: the daemon does without it.
    }
  }
  return loaded;
}

/**
 * The native poller, or null without the native part or when `EROFS_FUSE_READER=pool`
 * asks for the thread-pool reader. Without it the daemon still works, with about three
 * times the latency per request.
 */
export function devicePoller(): NativePart | null {
  return process.env.EROFS_FUSE_READER === "pool" ? null : nativePart();
}

/** How requests are read: from the event loop (poller) or by blocking pool threads. */
export type ReaderKind = "poll" | "thread-pool";

/**
 * Opens a new /dev/fuse connection. With the poller, the descriptor is non-blocking:
 * the loop reads only when epoll says a request is there, and a read that finds none
 * (a request withdrawn in between) returns EAGAIN instead of stalling everything.
 */
export function openFuseDevice(): { fd: number; reader: ReaderKind } {
  const poll = devicePoller() !== null;
  const flags = constants.O_RDWR | (poll ? constants.O_NONBLOCK : 0);
  return { fd: openSync("/dev/fuse", flags), reader: poll ? "poll" : "thread-pool" };
}

/** `rel` under this package's root (dist/ when bundled, src/protocol/ in tests). */
function findPackageFile(rel: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "package.json"))) {
      const p = join(dir, rel);
      return existsSync(p) ? p : null;
    }
    dir = dirname(dir);
  }
  return null;
}
