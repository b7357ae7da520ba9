import { closeSync, renameSync, writeFileSync } from "node:fs";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ErofsError, mount, PageCache, type ErofsFs, type FileSourceOptions } from "@erofs-ts/vfs";
import { attachFuse, raiseReadahead, unmountFuse } from "./mounter.js";
import type { DaemonOptions, MountPair } from "./options.js";
import { nativePart, type NativePart } from "./protocol/device.js";
import { FuseSession } from "./protocol/session.js";
import { describeRequest } from "./describe.js";
import { ErofsFuseServer } from "./server.js";

/** Thread-pool reader only: outstanding /dev/fuse reads per mount, requests served at once. */
export const READERS_PER_MOUNT = 8;
/** Large enough for any request the kernel sends a read-only filesystem (8 KiB minimum). */
const READ_BUFFER = 132 << 10;
/** Sequential readahead window for files cached by the kernel. */
const READAHEAD_KIB = 1024;
/** Budget of each of a mount's own caches of metadata blocks and decoded extents. */
const PER_MOUNT_CACHE_BYTES = 2 << 20;
/**
 * Budget of a mount's decoded fragments, emptied whenever the daemon goes idle. Files that
 * are identical share one fragment, and a walk need not read files in the order their
 * tails were packed, so it keeps jumping back to packed pclusters it decoded before: a
 * walk of app-a (lz4hc, a 22.8 MB packed inode) decoded 119 MB of LZ4 for its 69 MB of
 * files with 2 MiB; a walk of app-a-lzma 54 MB of its 27 MB packed inode with 2 MiB, 30 MB
 * with 8 MiB; a walk of app-a-zstd 107 MB for its 69 MB of files with 2 MiB, 79 MB with
 * 8 MiB. Measured with 8 MiB against 2 MiB, cold walks by two warm daemons interleaved: an
 * LZMA walk 10% faster (7 rounds), Zstandard 14% and DEFLATE 6% (10 rounds each), and
 * app-a's lz4hc 10% (median of 12 pairs, with an idle pause before each walk, so each
 * started with the cache emptied; the same build twice gave 1.03). An image without a
 * packed inode never fills it.
 */
const PACKED_CACHE_BYTES = 8 << 20;
/**
 * Inodes each mount keeps parsed. The kernel caches the attributes and entries it was
 * given, so the daemon sees an inode again mostly while serving one file's or one
 * directory's requests, close together. With the vfs default (65536, ~400 bytes of heap
 * each), a daemon that had served every file of an image of 100,000 small files (lz4,
 * mkfs.erofs 1.5) held 33 MB of heap and 90 MB RSS once idle; 13 and 70 MB with 16384
 * (10 and 66 MB with 8192), the walk (find | xargs cat) as fast. 16384 rather than 8192
 * keeps a tree the size of wide-plain.erofs (8,400 entries) whole: `ls -l` asks for an
 * xattr of every entry in turn, and an LRU smaller than the tree forgets each inode
 * before its next turn. They stay while the daemon is idle: a kernel that dropped its
 * inodes looks them up again, and each would wait for its metadata block (see
 * collectWhenIdle).
 */
const PER_MOUNT_INODES = 16384;
/** How long the kernel gets to send INIT after mount(2). */
const INIT_TIMEOUT_MS = 10_000;

interface LiveMount {
  readonly pair: MountPair;
  readonly fs: ErofsFs;
  readonly server: ErofsFuseServer;
  readonly session: FuseSession;
  mounted: boolean;
}

export interface DaemonHooks {
  /** Every mount answered INIT: the caller may return to its shell. */
  readonly ready: () => void;
  readonly log: (line: string) => void;
}

/**
 * Opens every image (so a bad one fails before anything is mounted), mounts each on its
 * own FUSE connection, all reading through one page cache, and serves until every mount
 * is gone. Resolves with the exit code.
 */
export async function runDaemon(options: DaemonOptions, hooks: DaemonHooks): Promise<number> {
  const cache = new PageCache({ budgetBytes: options.cacheBytes });
  const filesystems: ErofsFs[] = [];
  const dropper = ImagePageDropper.for(options);
  try {
    for (const pair of options.pairs) {
      const o = pair.options;
      const fs = await mount(pair.image, {
        cache,
        // File pages live in the kernel's cache or the shared one: the per-mount caches
        // beside them only need a working set (they are paid once per mount).
        metadataCacheBytes: PER_MOUNT_CACHE_BYTES,
        inodeCacheEntries: PER_MOUNT_INODES,
        packedCacheBytes: PACKED_CACHE_BYTES,
        decodedExtentBytes: PER_MOUNT_CACHE_BYTES,
        devices: o.devices,
        fsoffset: o.fsoffset,
        inodeShare: o.inodeShare,
        userXattr: o.userXattr,
        acl: o.acl,
        ...(o.domainId !== undefined ? { domainId: o.domainId } : {}),
        ...(o.fingerprints !== undefined ? { fingerprints: o.fingerprints } : {}),
        ...(dropper ? { fileHooks: dropper.hooks } : {}),
      }).catch((e: unknown) => {
        // Several images may be given: the message says which one failed.
        // A library error about the image itself does not name it a second time.
        const reason = ErofsError.isInstance(e) && e.where === pair.image ? e.reason : e instanceof Error ? e.message : String(e);
        throw new Error(`${pair.image}: ${reason}`, { cause: e });
      });
      for (const notice of fs.notices) hooks.log(`${pair.image}: ${notice}`);
      filesystems.push(fs);
    }
  } catch (e) {
    await Promise.allSettled(filesystems.map((f) => f.unmount()));
    throw e;
  }

  const mounts: LiveMount[] = [];
  const shutdown = async (): Promise<void> => {
    await Promise.allSettled(mounts.filter((m) => m.mounted).map((m) => unmountFuse(m.pair.mountpoint)));
  };
  try {
    for (let i = 0; i < options.pairs.length; i++) {
      const pair = options.pairs[i]!;
      const fs = filesystems[i]!;
      const { fd, reader } = await attachFuse(pair.image, pair.mountpoint, { allowOther: options.allowOther, flags: pair.flags });
      const server = new ErofsFuseServer(fs, fs.superblock.rootNid, { onError: (m) => hooks.log(`${pair.mountpoint}: ${m}`) });
      const session = new FuseSession(fd, {
        reader,
        readers: READERS_PER_MOUNT,
        spinMicros: options.spinMicros,
        bufferSize: READ_BUFFER,
        log: options.debug ? (line) => hooks.log(`[${i}] ${line}`) : null,
        describe: describeRequest,
        onReplied: server.replied,
      });
      mounts.push({ pair, fs, server, session, mounted: true });
      // Reads start once mounted: before that, the device has no connection to read from.
      session.start(server.handle);
    }
    await withTimeout(Promise.all(mounts.map((m) => m.server.ready)), INIT_TIMEOUT_MS, "the kernel sent no INIT");
    // Written last: a daemon that fails here unmounts what it mounted, as above.
    if (options.pidFile) writeWhole(options.pidFile, `${process.pid}\n`);
  } catch (e) {
    await shutdown();
    await Promise.allSettled(filesystems.map((f) => f.unmount()));
    throw e;
  }
  for (const m of mounts) raiseReadahead(m.pair.mountpoint, READAHEAD_KIB);

  const writeStats = (): void => {
    if (!options.statsFile) return;
    try {
      writeWhole(options.statsFile, JSON.stringify(statsOf(cache, mounts), (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v), 2));
    } catch (e) {
      // A signal handler that threw would end the daemon and leave its mounts dead.
      hooks.log(`--stats ${options.statsFile}: ${(e as Error).message}`);
    }
  };
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    hooks.log(`${signal}: unmounting`);
    void shutdown();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => stop("SIGHUP"));
  process.on("SIGUSR1", writeStats);
  const idleGc = collectWhenIdle(mounts, () => dropper?.sweep());
  hooks.ready();

  // Each connection ends when its mount goes (umount, fusermount3 -u, abort, shutdown).
  await Promise.all(
    mounts.map(async (m) => {
      const reason = await m.session.closed;
      m.mounted = false;
      if (options.debug) hooks.log(`${m.pair.mountpoint}: ${reason}`);
    }),
  );
  clearInterval(idleGc);
  writeStats();
  for (const m of mounts) {
    await m.fs.unmount();
    try {
      closeSync(m.session.fd);
    } catch {
      // already closed
    }
  }
  return 0;
}

/**
 * Writes a file that readers poll (the pid file, the stats) so that it appears whole: a
 * reader that saw the file as soon as it was created found it empty (a fuzz run read pid 0
 * and took the daemon for gone).
 */
function writeWhole(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Time for V8's background sweeper to free what a full collection found dead (a few ms). */
const SWEEP_WAIT_MS = 250;
/**
 * Whether the idle collection is V8's "last resort" one (the gc extension's flavor, in V8
 * 12 and later: Node 22 on). V8 there keeps the pages a collection empties in a pool,
 * resident, for its next allocations, and only this collection gives them back: an idle
 * daemon that had read app-a and app-b held 50 MB of anonymous memory after a plain one,
 * 28 MB after this one (Node 24), and walks after it were as fast. It takes longer, once
 * an idle period: two memory-reducing collections, 67 ms in all there, against one of 30.
 * V8 11 (Node 20) has no such pool, and a collection asked for so there compacted less.
 */
const RELEASES_POOLED_PAGES = Number(process.versions.v8.split(".")[0]) >= 12;

/**
 * V8 11 (Node 20) gives its young generation back to its starting size only in a
 * collection made while its allocation rate is low, and it rates allocation over its last
 * ten collections, which an idle daemon does not make: after a walk its young generation
 * stayed at 4 MB resident until V8's own memory reducer came, 10-20 s later. So once idle
 * the daemon makes young collections (cheap: the young generation is empty) a little
 * apart, then a full one. Measured once idle after app-a + app-b through two mounts, with
 * inode_share and without: young generation 4.2 -> 0.3 MB resident, anonymous memory 3-4
 * MB less. Closer collections made the rate come out high (5 ms apart: nothing shrank);
 * eleven 50 ms apart shrank it only halfway with inode_share; twenty 30 ms apart shrank
 * it in both, within ~0.6 s.
 */
const YOUNG_SHRINK_STEP_MS = 30;
const YOUNG_SHRINK_STEPS = 20;

/** The gc extension's function: a full collection without options, a young one with `{ type: "minor" }`. */
type GcFunction = (options?: { type: "major"; execution: "sync"; flavor: "last-resort" } | { type: "minor" }) => void;

/**
 * The young-generation shrink above, unless requests come meanwhile (a burst then grows it
 * again, and its own idle period starts over).
 */
function shrinkYoungGeneration(gc: GcFunction, busy: () => boolean): void {
  let steps = 0;
  const step = (): void => {
    if (busy()) return;
    if (steps++ < YOUNG_SHRINK_STEPS) {
      gc({ type: "minor" });
      setTimeout(step, YOUNG_SHRINK_STEP_MS).unref();
      return;
    }
    gc();
    nativePart()?.trimHeap();
  };
  step();
}

/**
 * Requests allocate short-lived buffers, and V8 lets dead ones pile up (tens of MB)
 * before it collects them: memory that looks like the daemon's. Once a burst of requests
 * is over (a second without any), each mount lets go of its read buffers (readahead
 * windows, decoded extents kept for a next fill, decoded fragments, free scratch and reply
 * buffers: up to 24 MiB a mount, of no use to the next burst, which may read anywhere) and
 * its compressed files' map headers (walks after an idle period were as fast without
 * them: 1.03, 12 pairs), a full collection and a malloc trim give it all back, and `alsoWhenIdle` runs
 * (the image page sweep). The parsed inodes stay: without them (app-a + app-b read
 * whole: 10,488 inodes, 6 MB of heap) a walk of app-a-lz4 after an idle period, the
 * kernel's inodes dropped, took ~1.2 times as long (median of 12 pairs of cold walks by
 * two daemons, 10 of them slower; the same build twice: 0.97), each LOOKUP waiting for
 * its inode's block from the disk.
 */
function collectWhenIdle(mounts: readonly LiveMount[], alsoWhenIdle: () => void): NodeJS.Timeout {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as GcFunction;
  let seen = 0;
  let collected = 0;
  const requestsSoFar = (): number => mounts.reduce((n, m) => n + m.server.requests, 0);
  const timer = setInterval(() => {
    const requests = requestsSoFar();
    if (requests === seen && requests !== collected) {
      for (const m of mounts) {
        // Every file read holds its pages in the kernel's cache or the shared one by now.
        m.fs.releaseBuffers({ fragments: true, mapHeaders: true });
        m.server.releaseBuffers();
      }
      // This one collection compacts the whole heap: V8's own collections leave old-space
      // pages part-used (measured once idle: ~4 MB more of V8's memory mapped without
      // sharing, ~6 MB with inode_share, whose walk leaves more behind). Only here, as
      // compacting every collection would slow the requests.
      setFlagsFromString("--compact-on-every-full-gc");
      if (RELEASES_POOLED_PAGES) gc({ type: "major", execution: "sync", flavor: "last-resort" });
      else gc();
      setFlagsFromString("--no-compact-on-every-full-gc");
      // What the collection freed goes back to malloc, which keeps it mapped until trimmed.
      nativePart()?.trimHeap();
      // And again shortly after: V8 frees dead ArrayBuffers' memory from a background
      // thread once the collection has returned, so much of it reached malloc only after
      // the trim above (measured: 5-20 MB left mapped in an idle daemon, varying from run
      // to run; with this second trim, none).
      setTimeout(() => nativePart()?.trimHeap(), SWEEP_WAIT_MS).unref();
      if (!RELEASES_POOLED_PAGES) shrinkYoungGeneration(gc, () => requestsSoFar() !== requests);
      alsoWhenIdle();
      collected = requests;
    }
    seen = requests;
  }, 1000);
  timer.unref();
  return timer;
}

/**
 * Drops the image files' pages from the OS page cache, unless image_cache=keep (or there
 * is no native part to give the advice). What the daemon reads from an image ends up
 * decoded in a cache: the kernel's, for files it caches, or the daemon's own. The image's
 * pages would hold those bytes a second time (measured: 40–45 MB for app-a + app-b read
 * whole). Each read's pages are dropped once read; the kernel's readahead is left on (it
 * keeps the disk busy ahead of the daemon's windows: turning it off made a cold walk of
 * app-a-lz4 ~20% slower), and what it brought in beyond the daemon's reads, or while a
 * drop ran, is swept once the daemon is idle. A file read again after both caches let it
 * go is read from the disk again, as with any other miss.
 */
class ImagePageDropper {
  /** Descriptors of the images and devices opened, for the idle sweep. */
  readonly #fds = new Set<number>();
  readonly #native: NativePart;

  private constructor(native: NativePart) {
    this.#native = native;
  }

  static for(options: DaemonOptions): ImagePageDropper | null {
    const native = options.dropImagePages ? nativePart() : null;
    return native ? new ImagePageDropper(native) : null;
  }

  readonly hooks: FileSourceOptions = {
    afterOpen: (fd) => void this.#fds.add(fd),
    afterRead: (fd, position, length) => void this.#native.dropPages(fd, position, length),
  };

  /** Drops whatever of the images is still cached (advice on a closed descriptor fails harmlessly). */
  sweep(): void {
    for (const fd of this.#fds) this.#native.dropPages(fd, 0, 0);
  }
}

function statsOf(cache: PageCache, mounts: readonly LiveMount[]): unknown {
  const mem = process.memoryUsage();
  return {
    cache: cache.stats(),
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    heapTotalBytes: mem.heapTotal,
    // `external` already includes the array buffers.
    externalBytes: mem.external,
    arrayBufferBytes: mem.arrayBuffers,
    // Resident part of V8's young generation (see YOUNG_SHRINK_STEPS).
    youngGenerationBytes: getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.physical_space_size ?? 0,
    mounts: mounts.map((m) => {
      const { packed, decodedExtents, scratchBytes, inodes, mapHeaders } = m.fs.cacheStats();
      return {
        image: m.pair.image,
        mountpoint: m.pair.mountpoint,
        mounted: m.mounted,
        reader: m.session.reader,
        ...m.server.stats(),
        packedCache: packed,
        decodedExtents,
        inodesKept: inodes,
        mapHeadersKept: mapHeaders,
        scratchBytes,
      };
    }),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
