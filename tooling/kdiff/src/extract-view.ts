import { isErrnoName, type WalkEntry, type WalkResult } from "./walk.js";

/**
 * What a tree written by erofs-cli extract can hold of an image, as views of the two walks
 * that compareWalks then holds field by field. Only what the host filesystem (ext4 here)
 * cannot hold is left out or reshaped, each case checked against a kernel mount; the rest
 * (type, mode, owner, file size, mtime in ns, file nlink, rdev, target, xattr names and
 * values, content, the names in each directory) is compared as for the other readers.
 */
export function extractedView(walk: WalkResult): WalkResult {
  // statfs describes the host filesystem, not the image.
  const { statfs: _host, ...rest } = walk;
  return { ...rest, entries: sortedByPath(walk.entries.map(hostsOwnFieldsDropped)) };
}

/**
 * The kernel's walk and an extraction as views that compare field by field (extractedView
 * for both, less what extract cannot write or could not read), and what is wrong with how
 * the extraction ended (stderr and exit status), or null.
 */
export function extractComparison(kernel: WalkResult, extracted: WalkResult): { kernel: WalkResult; extracted: WalkResult; misfit: ExtractMisfit | null } {
  const failed = kernelFailures(kernel);
  const sockets = new Set(kernel.entries.filter((e) => e.type === "socket").map((e) => e.path));
  const gone = new Set([...sockets, ...failed.absent]);
  const kernels = kernel.entries
    // extract skips sockets (a socket file is no socket without its process), with a warning.
    .filter((e) => !gone.has(e.path))
    .map((e) => {
      const view: WalkEntry = { ...e };
      if (Array.isArray(e.children)) view.children = e.children.filter((c) => !gone.has(childPath(e.path, c)));
      // Linux has no lchmod: every symlink on the host is 0777, whatever mode the image (a tar's header) gives it.
      if (e.type === "symlink") view.perm = 0o777;
      // user.* of anything but a file or a directory: the kernel lists it but will not read it
      // (ENODATA, as for any caller), so extract has no value to copy, and the host would
      // refuse to set one.
      if (Array.isArray(e.xattrs) && e.type !== "file" && e.type !== "dir") view.xattrs = e.xattrs.filter(([name, value]) => !(isUserXattr(name) && value === "ENODATA"));
      return view;
    });
  const extracteds = extracted.entries.filter((e) => !failed.unlisted.some((dir) => isBelow(e.path, dir)));
  const misfit = extractMisfit(sockets.size, failed.count, extracted);
  const views = [kernels, extracteds].map((entries) => entries.map((e) => withoutFailedFields(e, failed)));
  return { kernel: extractedView({ ...kernel, entries: views[0]! }), extracted: extractedView({ ...extracted, entries: views[1]! }), misfit };
}

/**
 * The calls the kernel failed in its walk, by what erofs-cli extract makes of the same
 * failure: it reports each on one stderr line, goes on, and exits 1.
 */
interface KernelFailures {
  /** Entries extract creates nothing for: the kernel could not look them up, or read a symlink's target. */
  readonly absent: Set<string>;
  /** Directories whose listing failed: extract keeps the entries listed before the failure, which the kernel's walk does not name. */
  readonly unlisted: string[];
  /** Directories whose nlink the host counts from what was created: an entry is missing, or all after a failed listing. */
  readonly hostCounted: Set<string>;
  /** Files whose content failed: extract leaves what it wrote, with no metadata, so only the type compares. */
  readonly unread: Set<string>;
  /** Entries whose xattrs failed to list or read: extract copies those before the failure at most. */
  readonly xattrsFailed: Set<string>;
  /** The stderr lines extract prints for them. */
  readonly count: number;
}

function kernelFailures(kernel: WalkResult): KernelFailures {
  const f = { absent: new Set<string>(), unlisted: [] as string[], hostCounted: new Set<string>(), unread: new Set<string>(), xattrsFailed: new Set<string>(), count: 0 };
  for (const e of kernel.entries) {
    if (e.lookupError !== undefined || (e.type === "symlink" && isErrnoName(e.target))) {
      f.absent.add(e.path);
      f.hostCounted.add(parentPath(e.path));
      f.count++;
      continue;
    }
    if (e.type === "file" && isErrnoName(e.sha256)) {
      // The content failed before extract reached the file's xattrs.
      f.unread.add(e.path);
      f.count++;
      continue;
    }
    if (typeof e.children === "string") {
      f.unlisted.push(e.path);
      f.hostCounted.add(e.path);
      f.count++;
    }
    const readable = e.type === "file" || e.type === "dir";
    if (typeof e.xattrs === "string" || e.xattrs?.some(([name, value]) => isErrnoName(value) && (readable || !(isUserXattr(name) && value === "ENODATA")))) {
      f.xattrsFailed.add(e.path);
      f.count++;
    }
  }
  return f;
}

function withoutFailedFields(e: WalkEntry, failed: KernelFailures): WalkEntry {
  if (failed.unread.has(e.path)) return { path: e.path, ...(e.type === undefined ? {} : { type: e.type }) };
  const view = { ...e };
  if (failed.unlisted.includes(e.path)) delete view.children;
  if (failed.hostCounted.has(e.path)) delete view.nlink;
  if (failed.xattrsFailed.has(e.path)) delete view.xattrs;
  return view;
}

/** How erofs-cli extract's ending differed from what the kernel's walk makes expected. */
export interface ExtractMisfit {
  /** The lines expected, in words, and the first lines printed; when stderr differs. */
  readonly stderr?: { expected: string; printed: string[] };
  /** The exit status expected and the one it ended with; when they differ. */
  readonly exitStatus?: { expected: number; actual: number };
}

/** A socket warning, the one warning a faithful extraction prints. */
const SOCKET_WARNING = /^erofs-cli: .+: warning: socket skipped$/;
/** An entry's failure as erofs-cli reports it (the CLI names entries as it pleases: only the count is held). */
const isEntryFailure = (line: string): boolean => /^erofs-cli: .+: .+$/.test(line) && !line.includes(": warning: ");

/**
 * What is wrong with how erofs-cli extract ended: a socket warning count other than the
 * kernel's sockets', a failure count other than the kernel's failures' (kernelFailures),
 * any other line, or an exit status other than 1 with failures and 0 without. Null when
 * it is as expected.
 */
function extractMisfit(sockets: number, failures: number, extracted: WalkResult): ExtractMisfit | null {
  const lines = extracted.stderr ?? [];
  const warned = lines.filter((l) => SOCKET_WARNING.test(l)).length;
  const reported = lines.filter(isEntryFailure).length;
  const status = { expected: failures ? 1 : 0, actual: extracted.exitStatus ?? 0 };
  const misfit: { -readonly [K in keyof ExtractMisfit]: ExtractMisfit[K] } = {};
  if (warned !== sockets || reported !== failures || warned + reported !== lines.length) {
    misfit.stderr = { expected: `${sockets} socket warning(s), ${failures} failure(s) as the kernel's`, printed: lines.slice(0, 5) };
  }
  if (status.actual !== status.expected) misfit.exitStatus = status;
  return misfit.stderr || misfit.exitStatus ? misfit : null;
}

function hostsOwnFieldsDropped(e: WalkEntry): WalkEntry {
  // The host's inode numbers and allocation, not the image's.
  const { ino: _ino, blocks: _blocks, ...view } = e;
  // A directory's size is its format's (ext4 blocks, erofs dirents).
  if (e.type === "dir") delete view.size;
  // getdents order is the host's (ext4's name hashes): the set of names is compared.
  if (Array.isArray(e.children)) view.children = [...e.children].sort();
  // listxattr order is the host's too (ext4 keeps in-inode names apart from its xattr block).
  if (Array.isArray(e.xattrs)) view.xattrs = [...e.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return view;
}

// The pre-order walk follows each directory's listing order, which is the host's.
const sortedByPath = (entries: WalkEntry[]): WalkEntry[] => [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

/** An entry's path (base64) from its directory's path and a child name (both base64). */
function childPath(dir: string, name: string): string {
  const d = Buffer.from(dir, "base64");
  const n = Buffer.from(name, "base64");
  return (d.length ? Buffer.concat([d, Buffer.from("/"), n]) : n).toString("base64");
}

const isUserXattr = (nameB64: string): boolean => Buffer.from(nameB64, "base64").toString("latin1").startsWith("user.");

/** The directory holding an entry (both paths base64; the root's is ""). */
function parentPath(path: string): string {
  const p = Buffer.from(path, "base64");
  const slash = p.lastIndexOf(0x2f);
  return slash < 0 ? "" : p.subarray(0, slash).toString("base64");
}

/** Whether `path` lies below directory `dir` (both base64). */
function isBelow(path: string, dir: string): boolean {
  const p = Buffer.from(path, "base64");
  const d = Buffer.from(dir, "base64");
  if (d.length === 0) return p.length > 0;
  return p.length > d.length && p[d.length] === 0x2f && p.subarray(0, d.length).equals(d);
}
