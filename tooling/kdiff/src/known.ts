import type { Difference } from "./compare.js";
import type { MkfsPlan } from "./options.js";
import { isErrnoName } from "./walk.js";

/**
 * Differences already understood, by the options that make them and the differences they
 * account for. A seed whose every difference is accounted for is still reported (and
 * still fails the run), but named, so that a new difference stands out.
 */
interface KnownFamily {
  readonly name: string;
  readonly applies: (plan: MkfsPlan) => boolean;
  readonly explains: (d: Difference) => boolean;
}

const extended = (plan: MkfsPlan): string[] => plan.args.filter((a) => a.startsWith("-E")).flatMap((a) => a.slice(2).split(","));
const inContent = (d: Difference): boolean => d.field === "sha256" || d.field === "ranges";

/** `ours` is `kernel` with every failed call answered EIO instead (ranges element by element). */
function failsAsEio(kernel: unknown, ours: unknown): boolean {
  if (Array.isArray(kernel) && Array.isArray(ours)) return kernel.length === ours.length && kernel.every((k, i) => failsAsEio(k, ours[i]));
  if (isErrnoName(kernel)) return ours === "EIO";
  return JSON.stringify(kernel) === JSON.stringify(ours);
}

/**
 * A warning of erofs-cli extract that the host refused an inode's xattrs for want of room.
 * A batch with several refusals prints the first and counts the rest ("(and 2 more)"):
 * those are taken to be the same (each inode whose xattrs went missing is a difference of
 * its own, which must be explained too).
 */
const XATTRS_NO_ROOM = /^erofs-cli: xattrs: warning: setfattr failed: setfattr: .*: No space left on device( \(and \d+ more\))?$/;
const SOCKET_SKIPPED = /^erofs-cli: .+: warning: socket skipped$/;

/** `ours` holds some of `kernel`'s [name, value] pairs and nothing else. */
function someOf(kernel: unknown, ours: unknown): boolean {
  if (!Array.isArray(kernel) || !Array.isArray(ours) || ours.length >= kernel.length) return false;
  const theirs = new Set(kernel.map((x) => JSON.stringify(x)));
  return ours.every((x) => theirs.has(JSON.stringify(x)));
}

/** `ours` is `kernel`'s [name, value] pairs less those with an empty name, and there was one. */
function withoutEmptyNames(kernel: unknown, ours: unknown): boolean {
  if (!Array.isArray(kernel) || !Array.isArray(ours)) return false;
  const named = kernel.filter((x) => !(Array.isArray(x) && x[0] === ""));
  return named.length < kernel.length && JSON.stringify(named) === JSON.stringify(ours);
}

/** The most exact explanation first: a difference is named after the first that accounts for it. */
const FAMILIES: readonly KnownFamily[] = [
  {
    // ext4 keeps an inode's xattrs in the inode and one block: ~4 KiB in all, where an
    // EROFS inode holds up to 256 KiB. setfattr is refused (ENOSPC) and extract warns; that
    // inode's xattrs are missing, or some of them.
    name: "extract: xattrs beyond what an ext4 inode holds",
    applies: () => true,
    explains: (d) =>
      d.reader === "extract" &&
      ((d.field === "stderr" && Array.isArray(d.ours) && d.ours.some((l) => XATTRS_NO_ROOM.test(String(l))) && d.ours.every((l) => XATTRS_NO_ROOM.test(String(l)) || SOCKET_SKIPPED.test(String(l)))) ||
        (d.field === "xattrs" && someOf(d.kernel, d.ours))),
  },
  {
    // erofs-fuse answers a corrupt image's failures EIO (apps/fuse/README.md), where the
    // kernel's erofs says EUCLEAN or EOPNOTSUPP: the same calls fail, with another errno.
    name: "erofs-fuse answers failures EIO (apps/fuse README)",
    applies: () => true,
    explains: (d) => d.reader === "fuse" && failsAsEio(d.kernel, d.ours),
  },
  {
    // An empty xattr name (a damaged image's, e.g. mkfs --incremental=0's zeroed inodes):
    // the kernel's erofs lists it, erofs-fuse leaves it out (README: the FUSE layer fails
    // a whole list holding one). Everything else listed must be the kernel's, in order.
    name: "erofs-fuse lists no empty xattr name (README)",
    applies: () => true,
    explains: (d) => d.reader === "fuse" && d.field === "xattrs" && withoutEmptyNames(d.kernel, d.ours),
  },
  {
    // 1.9.3's ztailpacking tails beside fragments: the kernel's bytes there change from
    // mount to mount (deflate, lz4hc), see the top-level README.
    name: "ztailpacking+fragments tails (README)",
    applies: (p) => p.flavour === "upstream" && extended(p).includes("ztailpacking") && extended(p).some((e) => e === "fragments" || e === "all-fragments"),
    explains: inContent,
  },
  {
    // The README's "broken pclusters from mkfs.erofs 1.9.3": zstd with --max-extent-bytes.
    name: "1.9.3 zstd pclusters with --max-extent-bytes (README)",
    applies: (p) => p.flavour === "upstream" && p.tags.includes("-zzstd") && p.tags.includes("--max-extent-bytes"),
    explains: inContent,
  },
];

/**
 * The known families that account for every difference of a seed (each difference by at
 * least one family that applies to its options), or null when one is new.
 */
export function knownFamilies(plan: MkfsPlan, diffs: readonly Difference[]): string[] | null {
  const families = FAMILIES.filter((f) => f.applies(plan));
  const named = new Set<string>();
  for (const d of diffs) {
    const f = families.find((x) => x.explains(d));
    if (!f) return null;
    named.add(f.name);
  }
  return named.size ? [...named] : null;
}
