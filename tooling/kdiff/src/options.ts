import { Rng } from "./rng.js";

/**
 * Random valid mkfs.erofs option sets. Three flavours with different option sets:
 * upstream erofs-utils 1.9.3 (every compressor, fragments, dedupe, metabox, tar input,
 * block sizes below a page...), Debian 12's 1.5 (lz4/lz4hc only, 4 KiB blocks only, no
 * -b; but chunked files, an extra blob device and legacy layouts that the 1.9.3 sweeps
 * rarely reached), and composefs's mkcomposefs (an EROFS writer of its own: files as
 * overlayfs metacopy/redirect xattrs without data, small ones inline, whiteouts).
 */
export type MkfsFlavour = "upstream" | "debian" | "composefs";

export type SourceKind = "dir" | "tar-full" | "tar-index";

export interface MkfsPlan {
  readonly flavour: MkfsFlavour;
  /** Options only: the image and source paths follow them. */
  readonly args: string[];
  readonly source: SourceKind;
  /** Contents of the --compress-hints file, when there is one. */
  readonly hints: string | null;
  /** Whether chunked data goes to an extra device (--blobdev), mounted with device=. */
  readonly blob: boolean;
  /** One word per option drawn, for the coverage count. */
  readonly tags: string[];
  /**
   * An incremental build: mkfs first makes the image from another tree (`base`) with
   * the same options, then adds this seed's tree to it with `--incremental=data|rvsp|0`
   * (mkfs 1.9's layered images: metadata and data of the second build after the first's).
   */
  readonly incremental: { readonly mode: "data" | "rvsp" | "0"; readonly base: "same tree" | "other tree" } | null;
}

/** Where the plan's side files go (paths are part of the argv). */
export interface MkfsFiles {
  readonly hints: string;
  readonly blob: string;
  /** mkcomposefs's --digest-store directory (the files' content, by digest). */
  readonly store: string;
}

/** The option set seed `seed` names for `flavour` (independent of the tree's draws). */
export function planMkfs(seed: number, flavour: MkfsFlavour, files: MkfsFiles): MkfsPlan {
  switch (flavour) {
    case "upstream":
      return upstreamOptions(new Rng(seed, 1), files);
    case "debian":
      return debianOptions(new Rng(seed, 2), files);
    case "composefs":
      return composefsOptions(new Rng(seed, 3), files);
  }
}

/** The writer's operands after its options: mkcomposefs takes SOURCE IMAGE, mkfs.erofs IMAGE SOURCE. */
export function mkfsOperands(flavour: MkfsFlavour, image: string, source: string): [string, string] {
  return flavour === "composefs" ? [source, image] : [image, source];
}

const UPSTREAM_ALGORITHMS = ["lz4", "lz4hc", "lzma", "deflate", "zstd"] as const;

function upstreamAlgorithm(rng: Rng, name: (typeof UPSTREAM_ALGORITHMS)[number]): string {
  let s: string = name;
  switch (name) {
    case "lz4hc":
      if (rng.chance(0.7)) s += `,level=${rng.range(0, 12)}`;
      break;
    case "lzma":
      if (rng.chance(0.7)) s += `,level=${rng.pick([0, 1, 3, 6, 9, 100, 104, 109])}`;
      if (rng.chance(0.4)) s += `,dictsize=${rng.pick([1 << 16, 1 << 17, 1 << 20, 1 << 23])}`;
      break;
    case "deflate":
      if (rng.chance(0.7)) s += `,level=${rng.range(0, 9)}`;
      if (rng.chance(0.2)) s += `,dictsize=${rng.pick([4096, 16384, 32768])}`;
      break;
    case "zstd":
      if (rng.chance(0.7)) s += `,level=${rng.range(0, 22)}`;
      if (rng.chance(0.2)) s += `,dictsize=${rng.pick([1 << 15, 1 << 17, 1 << 20])}`;
      break;
  }
  return s;
}

/** Per-file pcluster sizes by path regex (the second column, an algorithm index, is left out). */
function hintsFile(rng: Rng, blockSize: number): string {
  const lines: string[] = [];
  for (let i = rng.range(1, 4); i > 0; i--) {
    lines.push(`${blockSize * rng.pick([1, 2, 4, 16])} ${rng.pick([".*", "file", "^d", "a[0-9]", "x", "\\.hidden", "bigdir"])}`);
  }
  return `${lines.join("\n")}\n`;
}

/** An mkfs command line being drawn: `opt` adds an argument and the tag it is counted under (the argument itself by default). */
function optionList(): { args: string[]; tags: string[]; opt: (arg: string, tag?: string) => void } {
  const args: string[] = [];
  const tags: string[] = [];
  const opt = (arg: string, tag = arg): void => {
    args.push(arg);
    tags.push(tag);
  };
  return { args, tags, opt };
}

function upstreamOptions(rng: Rng, files: MkfsFiles): MkfsPlan {
  const { args, tags, opt } = optionList();
  const c = rng.float();
  const source: SourceKind = c < 0.1 ? "tar-full" : c < 0.17 ? "tar-index" : "dir";
  const compressed = source !== "tar-index" && rng.chance(0.7);
  let blockSize = 4096;
  if (source !== "tar-index" && rng.chance(0.12)) {
    blockSize = rng.pick([512, 1024, 2048]);
    opt(`-b${blockSize}`);
  }
  let hints: string | null = null;
  if (compressed) {
    const n = rng.chance(0.75) ? 1 : rng.range(2, 3);
    const algorithms = rng.sample(UPSTREAM_ALGORITHMS, n);
    args.push(`-z${algorithms.map((a) => upstreamAlgorithm(rng, a)).join(":")}`);
    tags.push(...algorithms.map((a) => `-z${a}`));
    if (rng.chance(0.6)) {
      const factor = blockSize === 4096 ? rng.pick([1, 2, 4, 8, 16, 64, 256]) : rng.pick([1, 2, 8, 64]);
      opt(`-C${Math.min(blockSize * factor, 1 << 20)}`, "-C");
    }
    if (n > 1 || rng.chance(0.2)) {
      hints = hintsFile(rng, blockSize);
      opt(`--compress-hints=${files.hints}`, "--compress-hints");
    }
    if (rng.chance(0.25)) opt(`--max-extent-bytes=${rng.pick([4096, 8192, 16384, 65536, 1 << 20])}`, "--max-extent-bytes");
    if (rng.chance(0.15)) opt("--zD");
  }
  const dataOnly = new Set(["ztailpacking", "fragments", "all-fragments", "dedupe", "fragdedupe", "legacy-compress"]);
  const extended: string[] = [];
  for (const e of ["ztailpacking", "fragments", "all-fragments", "dedupe", "fragdedupe", "legacy-compress", "48bit", "dot-omitted",
    "force-inode-compact", "force-inode-extended", "noinline_data", "force-inode-blockmap", "force-chunk-indexes",
    "xattr-name-filter", "plain-xattr-prefixes"]) {
    if (rng.chance(compressed || !dataOnly.has(e) ? 0.3 : 0.05)) extended.push(e === "fragdedupe" ? `fragdedupe=${rng.pick(["off", "full", "inode"])}` : e);
  }
  // ztailpacking with fragments is a known family (the kernel's tails change from mount to
  // mount): kept, but rare, so that it does not crowd out the rest.
  if (extended.includes("ztailpacking") && extended.some((e) => e.endsWith("fragments")) && rng.chance(0.9)) extended.splice(extended.indexOf("ztailpacking"), 1);
  if (extended.includes("force-inode-compact") && extended.includes("force-inode-extended")) {
    const drop = rng.pick(["force-inode-compact", "force-inode-extended"]);
    extended.splice(extended.indexOf(drop), 1);
  }
  if (extended.length) {
    args.push(`-E${extended.join(",")}`);
    tags.push(...extended.map((e) => `-E${e.split("=")[0]}`));
  }
  let blob = false;
  if (!compressed && source !== "tar-index" && rng.chance(0.35)) {
    opt(`--chunksize=${blockSize * rng.pick([1, 2, 4, 16, 256])}`, "--chunksize");
    if (source === "dir" && rng.chance(0.5)) {
      blob = true;
      opt(`--blobdev=${files.blob}`, "--blobdev");
    }
  }
  if (rng.chance(0.04)) {
    const algorithm = rng.pick([null, ...UPSTREAM_ALGORITHMS]);
    opt(`-m${blockSize * rng.pick([1, 1, 4])}${algorithm ? `:${algorithm}` : ""}`, "-m");
  }
  if (rng.chance(0.12)) opt(rng.pick(["--MZ", "--MZ=i", "--MZ=d", "--MZ=id", "--MZ=0"]), "--MZ");
  if (rng.chance(0.12)) opt(rng.pick(["--xattr-inode-digest", "--xattr-inode-digest=user.digest"]), "--xattr-inode-digest");
  if (rng.chance(0.2)) {
    for (let i = rng.range(1, 3); i > 0; i--) args.push(`--xattr-prefix=${rng.pick(["trusted.foo.", "user.", "user.shared", "security.", "trusted.overlay.", "user.a"])}`);
    tags.push("--xattr-prefix");
  }
  if (rng.chance(0.1)) opt(`--dsunit=${rng.pick([1, 2, 4, 8, 16])}`, "--dsunit");
  if (rng.chance(0.1)) opt(rng.pick(["-x-1", "-x1", "-x0"]));
  const compact = extended.includes("force-inode-compact") && rng.chance(0.8);
  if (compact || rng.chance(0.1)) opt("--all-root");
  if (rng.chance(0.05)) opt(`--uid-offset=${rng.pick([1, 65536, 1 << 30])}`, "--uid-offset");
  const t = compact ? 0.15 : rng.float();
  if (t < 0.1) opt("--preserve-mtime");
  else if (t < 0.2) opt("--ignore-mtime");
  if (rng.chance(0.15)) opt("-T0");
  if (rng.chance(0.1)) opt(`--root-xattr-isize=${rng.pick([0, 32, 100, 400])}`, "--root-xattr-isize");
  if (rng.chance(0.05)) opt("--hard-dereference");
  if (rng.chance(0.05)) opt(`-L${rng.pick(["label", "fifteen-bytes!!"])}`, "-L");
  if (source === "tar-full") opt("--tar=f");
  if (source === "tar-index") opt("--tar=i");
  const incremental = laterUpstreamOptions(rng, source, args, opt);
  if (incremental) tags.push("--incremental");
  return { flavour: "upstream", args, source, hints, blob, tags, incremental };
}

/**
 * Options added to the sweep after its first seeds had run: drawn after all the others,
 * so that a seed drawn before keeps its options and only gains these. Returns the
 * incremental build, if one is drawn.
 */
function laterUpstreamOptions(rng: Rng, source: SourceKind, args: string[], opt: (arg: string, tag?: string) => void): MkfsPlan["incremental"] {
  // MicroLZMA's literal and position bits: the stream's first byte, which the reader decodes.
  const z = args.findIndex((a) => a.startsWith("-z") && a.includes("lzma"));
  if (z >= 0 && rng.chance(0.3)) {
    const lc = rng.range(0, 4);
    const bits = `,lc=${lc},lp=${rng.range(0, 4 - lc)},pb=${rng.range(0, 4)}`;
    args[z] = `-z${args[z]!.slice(2).split(":").map((part) => (part.startsWith("lzma") ? part + bits : part)).join(":")}`;
  }
  if (rng.chance(0.05)) opt(`--fsalignblks=${rng.pick([2, 16, 256])}`, "--fsalignblks");
  if (rng.chance(0.05)) opt(`--gid-offset=${rng.pick([1, 65536, 1 << 30])}`, "--gid-offset");
  if (args.includes("-T0") && rng.chance(0.5)) opt("--mkfs-time");
  if (source === "tar-full" && rng.chance(0.3)) opt("--sort=none");
  // Not from an index-only tar: its data stays in the tar, one device per build.
  if (source === "tar-index" || !rng.chance(0.12)) return null;
  return { mode: rng.pick(["data", "rvsp", "0"] as const), base: rng.pick(["same tree", "other tree"] as const) };
}

/** Options mkfs.erofs 1.5 accepts (its --help; -E as its option parser knows them). */
function debianOptions(rng: Rng, files: MkfsFiles): MkfsPlan {
  const { args, tags, opt } = optionList();
  const compressed = rng.chance(0.65);
  let hints: string | null = null;
  const extended: string[] = [];
  if (compressed) {
    // 1.5 spells a level as "-zX,LEVEL".
    const algorithm = rng.pick(["lz4", "lz4hc"]);
    opt(algorithm === "lz4hc" && rng.chance(0.7) ? `-zlz4hc,${rng.range(0, 12)}` : `-z${algorithm}`, `-z${algorithm}`);
    if (rng.chance(0.6)) opt(`-C${4096 * rng.pick([1, 2, 4, 8, 16, 64, 256])}`, "-C");
    if (rng.chance(0.2)) {
      hints = hintsFile(rng, 4096);
      opt(`--compress-hints=${files.hints}`, "--compress-hints");
    }
    if (rng.chance(0.25)) opt(`--max-extent-bytes=${rng.pick([4096, 8192, 16384, 65536, 1 << 20])}`, "--max-extent-bytes");
    if (rng.chance(0.35)) extended.push("ztailpacking");
    if (rng.chance(0.12)) extended.push("legacy-compress");
  }
  for (const e of ["force-inode-compact", "force-inode-extended", "noinline_data", "force-inode-blockmap", "force-chunk-indexes", "nosbcrc"]) {
    if (rng.chance(0.2)) extended.push(e);
  }
  if (extended.includes("force-inode-compact") && extended.includes("force-inode-extended")) {
    extended.splice(extended.indexOf(rng.pick(["force-inode-compact", "force-inode-extended"])), 1);
  }
  if (extended.length) {
    args.push(`-E${extended.join(",")}`);
    tags.push(...extended.map((e) => `-E${e}`));
  }
  let blob = false;
  // Chunked files are for uncompressed images; now and then both, to see what 1.5 makes of it.
  if (rng.chance(compressed ? 0.05 : 0.5)) {
    opt(`--chunksize=${4096 * rng.pick([1, 2, 4, 16, 256])}`, "--chunksize");
    if (rng.chance(0.5)) {
      blob = true;
      opt(`--blobdev=${files.blob}`, "--blobdev");
    }
  }
  if (rng.chance(0.1)) opt(rng.pick(["-x-1", "-x0", "-x1", "-x2"]));
  const compact = extended.includes("force-inode-compact") && rng.chance(0.8);
  if (compact || rng.chance(0.1)) opt("--all-root");
  else if (rng.chance(0.1)) {
    opt(`--force-uid=${rng.pick([0, 1000, 65535, 65536, 2 ** 31])}`, "--force-uid");
    if (rng.chance(0.5)) opt(`--force-gid=${rng.pick([0, 100, 65535, 65536, 2 ** 31])}`, "--force-gid");
  }
  const t = compact ? 0.15 : rng.float();
  if (t < 0.1) opt("--preserve-mtime");
  else if (t < 0.2) opt("--ignore-mtime");
  if (rng.chance(0.12)) opt(`-T${rng.pick([0, 1, 1_700_000_000, 2 ** 32 - 1])}`, "-T");
  if (rng.chance(0.1)) opt(`-U${uuid(rng)}`, "-U");
  if (rng.chance(0.08)) {
    if (rng.chance(0.5)) opt(`--exclude-regex=${rng.pick(["bigdir", "^d", "a[0-9]", "\\.hidden"])}`, "--exclude-regex");
    else opt(`--exclude-path=${rng.pick(["bigdir0", "dfile1", "x1"])}`, "--exclude-path");
  }
  return { flavour: "debian", args, source: "dir", hints, blob, tags, incremental: null };
}

/** Options of mkcomposefs 1.0.8 (its --help) that shape the image, from a directory. */
function composefsOptions(rng: Rng, files: MkfsFiles): MkfsPlan {
  const { args, tags, opt } = optionList();
  // Composefs format version 0, or 1 (which also marks a directory holding whiteouts with
  // overlayfs's newer opaque xattrs), or mkcomposefs's default range, 0 to 1.
  const version = rng.pick([null, ["--min-version=1"], ["--max-version=0"], ["--min-version=0", "--max-version=1"]]);
  for (const v of version ?? []) opt(v, v.split("=")[0]);
  if (rng.chance(0.2)) opt("--use-epoch");
  if (rng.chance(0.1)) opt("--skip-devices");
  if (rng.chance(0.08)) opt("--skip-xattrs");
  else if (rng.chance(0.1)) opt("--user-xattrs");
  if (rng.chance(0.3)) opt(`--digest-store=${files.store}`, "--digest-store");
  if (rng.chance(0.2)) opt(`--threads=${rng.range(1, 4)}`, "--threads");
  return { flavour: "composefs", args, source: "dir", hints: null, blob: false, tags, incremental: null };
}

function uuid(rng: Rng): string {
  const hex = Buffer.from(rng.bytes(16)).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
