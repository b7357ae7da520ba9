import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { ErofsError, parseByteCount, parseMountOptions, type ParsedMountOptions } from "@erofs-ts/vfs";

export class UsageError extends Error {
  override name = "UsageError";
  /** Whether the usage text helps (a malformed command line, not a missing file). */
  readonly showUsage: boolean;
  constructor(message: string, showUsage = true) {
    super(message);
    this.showUsage = showUsage;
  }
}

/** One IMAGE MOUNTPOINT pair and the image options in force where it was given. */
export interface MountPair {
  readonly image: string;
  readonly mountpoint: string;
  readonly options: ParsedMountOptions;
  /** Generic mount flags for this mountpoint (noexec, noatime, ...), handed to mount(8) or fusermount3. */
  readonly flags: readonly string[];
}

export interface DaemonOptions {
  readonly foreground: boolean;
  readonly debug: boolean;
  /** Where SIGUSR1 and exit write the statistics (JSON). */
  readonly statsFile: string | undefined;
  /** Written with the daemon's pid once every mount is live. */
  readonly pidFile: string | undefined;
  /** Budget of the one page cache every mount shares. */
  readonly cacheBytes: number;
  readonly allowOther: boolean;
  /** How long the daemon looks for a next request before it sleeps (µs, 0: never). */
  readonly spinMicros: number;
  /** Whether image pages the daemon has read leave the OS page cache (image_cache=drop). */
  readonly dropImagePages: boolean;
  readonly pairs: readonly MountPair[];
  /** What the command line asked for that is accepted but not done, for the user to see. */
  readonly notices: readonly string[];
}

/** What --version prints: src/ and dist/ both sit one level below the package.json. */
export const VERSION_TEXT = `erofs-fuse ${(createRequire(import.meta.url)("../package.json") as { version: string }).version}`;

export const USAGE = `usage: erofs-fuse [-f] [-d] [--stats FILE] [-o OPTIONS] IMAGE MOUNTPOINT [[-o OPTIONS] IMAGE MOUNTPOINT ...]

  -V, --version print the version
  -f            stay in the foreground (default: return once every mount is live)
  -d            log every request and reply (implies -f)
  --stats FILE  write statistics as JSON to FILE on SIGUSR1 and at exit
  --pidfile F   write the daemon's pid to F once every mount is live
  -o OPTIONS    comma-separated; device=, fsoffset= and fingerprints= describe one image
                and apply to the pair being named (or the next one) only, the others to
                it and every pair after; after the last pair, to that pair (IMAGE
                MOUNTPOINT -o OPTIONS, as mount.fuse3 runs it). A later value overrides
                an earlier one:
                  device=PATH     extra device, in device-table order (repeatable)
                  fsoffset=N      the filesystem starts N bytes into IMAGE
                  inode_share     share pages of files with equal fingerprints
                  domain_id=ID    only mounts with the same ID share (never printed)
                  fingerprints=F  fingerprints for an image without them (erofs-cli fingerprints)
                  nouser_xattr, noacl  no user.* attributes, no POSIX ACLs (as the kernel's
                                  options; user_xattr and acl, the defaults, turn them on)
                  cache_strategy=disabled|readahead|readaround  accepted, no effect (it
                                  steers the kernel's cache of compressed clusters)
                  directio, nodirectio  the kernel's names for image_cache=drop and keep
                  dax, dax=always, dax=never  accepted; there is no DAX through FUSE (a notice)
                  cache_size=N    page cache budget for the whole daemon (default 256M)
                  allow_other     let other users in (kernel checks modes: default_permissions)
                  spin_us=N       once idle, look for the next request for N µs before
                                  sleeping (default 100, at most 1000, 0: never): waking
                                  a sleeping daemon costs a one-by-one client more
                  image_cache=drop|keep  whether the image files' pages stay in the OS
                                  page cache once read (default drop: the decoded
                                  files are cached, by the kernel or the daemon)
                  noexec, noatime, nodiratime, relatime, strictatime (and exec, atime,
                  diratime, norelatime)  generic mount flags, applied to the mount
                  ro, nosuid, nodev, default_permissions  accepted: always in force
                                  (suid and dev are accepted but ignored, with a notice:
                                  an image is untrusted)`;

/**
 * Generic mount options every erofs-fuse mount has anyway, accepted so that command lines
 * and fstab entries written for other FUSE filesystems work unchanged.
 */
const ALWAYS_IN_FORCE = new Set(["ro", "nosuid", "nodev", "default_permissions"]);
/** Generic flags the kernel applies to the mount itself; both mount(8) and fusermount3 take them. */
const MOUNT_FLAGS = new Set(["noexec", "exec", "noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "strictatime"]);
/**
 * The opposites of nosuid and nodev: accepted, because mount.fuse3 adds them to every
 * root mount from fstab, but not honoured, with a notice saying so.
 */
const NOT_HONOURED: Record<string, string> = {
  suid: "suid ignored: an image is untrusted input, so its setuid and setgid bits never take effect (the mount is nosuid)",
  dev: "dev ignored: an image is untrusted input, so its device nodes open nothing (the mount is nodev)",
};

const DEFAULT_CACHE = 256 << 20;
const DEFAULT_SPIN_US = 100;
const MAX_SPIN_US = 1000;
/** Options that describe one image's layout: they apply to one pair only. */
const ONE_IMAGE_KEYS = new Set(["device", "fsoffset", "fingerprints"]);

/** Parses the command line; throws UsageError (exit 2). */
export function parseArgs(argv: readonly string[]): DaemonOptions {
  let foreground = false;
  let debug = false;
  let statsFile: string | undefined;
  let pidFile: string | undefined;
  let cacheBytes = DEFAULT_CACHE;
  let allowOther = false;
  let spinMicros = DEFAULT_SPIN_US;
  let dropImagePages = true;
  const imageOptions: string[] = [];
  const flags: string[] = [];
  const notices = new Set<string>();
  let nextImageOnly: string[] = [];
  /** Each pair as named, with the options in force where its MOUNTPOINT was named. */
  const named: Array<{ image: string; mountpoint?: string; imageOnly: string[]; options: string[]; flags: string[] }> = [];
  /** Takes the options in force now for the last pair (a later value overrides an earlier one). */
  const settleLast = (): void => {
    const last = named[named.length - 1]!;
    last.imageOnly.push(...nextImageOnly);
    nextImageOnly = [];
    last.options = [...imageOptions];
    last.flags = [...flags];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === "-f") foreground = true;
    else if (arg === "-d") debug = foreground = true;
    else if (arg === "--stats") statsFile = resolve(value());
    else if (arg === "--pidfile") pidFile = resolve(value());
    else if (arg === "-o" || arg.startsWith("-o")) {
      const text = arg === "-o" ? value() : arg.slice(2);
      for (const item of text.split(",")) {
        const key = item.split("=")[0]!;
        if (key === "cache_size") cacheBytes = parseSize(item.slice("cache_size=".length));
        else if (key === "allow_other") allowOther = true;
        else if (key === "spin_us") spinMicros = parseSpin(item.slice("spin_us=".length));
        else if (key === "image_cache") dropImagePages = parseImageCache(item.slice("image_cache=".length));
        // The kernel's names for the same choice on a file-backed mount: direct I/O leaves
        // no image pages in the page cache, buffered reads keep them.
        else if (item === "directio" || item === "nodirectio") dropImagePages = item === "directio";
        else if (key === "dax") daxNotice(item, notices);
        else if (key === "rw") throw new UsageError("rw: EROFS images are read-only", false);
        else if (NOT_HONOURED[item]) notices.add(NOT_HONOURED[item]!);
        else if (MOUNT_FLAGS.has(item)) flags.push(item);
        else if (ONE_IMAGE_KEYS.has(key)) nextImageOnly.push(item);
        else if (!ALWAYS_IN_FORCE.has(item) && item !== "") imageOptions.push(item);
      }
    } else if (arg === "-h" || arg === "--help") throw new UsageError(USAGE);
    else if (arg === "-V" || arg === "--version") throw new UsageError(VERSION_TEXT);
    else if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
    else if (named.length === 0 || named[named.length - 1]!.mountpoint !== undefined) {
      named.push({ image: arg, imageOnly: [], options: [], flags: [] });
    } else {
      named[named.length - 1]!.mountpoint = arg;
      settleLast();
    }
  }
  if (named.length === 0 || named[named.length - 1]!.mountpoint === undefined) throw new UsageError("expected IMAGE MOUNTPOINT pairs");
  // Options after the last pair are that pair's: `erofs-fuse IMAGE MOUNTPOINT -o OPTIONS`,
  // as mount.fuse3 (an fstab entry) runs it.
  settleLast();
  const pairs: MountPair[] = [];
  const seen = new Set<string>();
  for (const pair of named) {
    const image = resolve(pair.image);
    const mountpoint = resolve(pair.mountpoint!);
    if (!existsSync(image)) throw new UsageError(`${image}: no such file`, false);
    if (!existsSync(mountpoint)) throw new UsageError(`${mountpoint}: no such directory`, false);
    if (!statSync(mountpoint).isDirectory()) throw new UsageError(`${mountpoint}: not a directory`, false);
    if (seen.has(mountpoint)) throw new UsageError(`${mountpoint}: given twice`, false);
    seen.add(mountpoint);
    pairs.push({ image, mountpoint, options: optionValue(() => parseMountOptions([...pair.options, ...pair.imageOnly].join(","))), flags: pair.flags });
  }
  return { foreground, debug, statsFile, pidFile, cacheBytes, allowOther, spinMicros, dropImagePages, pairs, notices: [...notices] };
}

/**
 * Runs a vfs option parser, its error as a usage error. Its reason names the option
 * already (its `where` is that name): "unknown mount option "x"", not "... (x)".
 */
function optionValue<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (ErofsError.isInstance(e)) throw new UsageError(e.reason, false);
    throw e;
  }
}

function parseSpin(text: string): number {
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n <= MAX_SPIN_US)) throw new UsageError(`spin_us=${text}: need a whole number of microseconds up to ${MAX_SPIN_US}`, false);
  return n;
}

/** A byte count with an optional K/M/G suffix (powers of 1024). */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (!m) return optionValue(() => parseByteCount(text, "cache_size"));
  const unit = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < 1 << 20) throw new UsageError(`cache_size=${text}: need at least 1M`, false);
  return n;
}

/**
 * The kernel's dax options: accepted as the kernel accepts them on a device without DAX,
 * where it turns DAX off with a message and mounts. Through FUSE there is no DAX either.
 */
function daxNotice(item: string, notices: Set<string>): void {
  if (item === "dax=never") return;
  if (item !== "dax" && item !== "dax=always") throw new UsageError(`${item}: expected dax, dax=always or dax=never`, false);
  notices.add("dax ignored: a FUSE mount has no DAX (the kernel turns it off too on a device without it)");
}

function parseImageCache(text: string): boolean {
  if (text === "drop") return true;
  if (text === "keep") return false;
  throw new UsageError(`image_cache=${text}: expected drop or keep`, false);
}
