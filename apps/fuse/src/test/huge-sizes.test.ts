import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canCorruptInodes, hasCommand, KernelMount, resizeInode, ScratchDir } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const work = new ScratchDir("erofs-fuse-huge-sizes-");
afterAll(work.remove);

const CAN_MAKE = hasCommand("mkfs.erofs") && canCorruptInodes() && existsSync("/usr/bin/python3");

/** Reads below 2^53 (each 64 KiB): the start, the real file's last byte and end, further out. */
const BELOW = [0n, 299_999n, 300_000n, 1n << 20n, 1n << 44n];
/** Reads at and past 2^53, inside both sizes stated (2^53 + 5 is the smaller). */
const PAST = [1n << 53n, (1n << 53n) + 4n];

interface Observed {
  size: string;
  blocks: string;
  reads: string[];
}

/**
 * lstat's size and blocks of `file`, and each 64 KiB pread at `offsets` (the sha256 of the
 * bytes, or the errno's name), from Python: exact at any size.
 */
function observe(file: string, offsets: readonly bigint[]): Observed {
  const script = [
    "import errno, hashlib, json, os, sys",
    "st = os.lstat(sys.argv[1])",
    "fd = os.open(sys.argv[1], os.O_RDONLY)",
    "def at(o):",
    "    try: return hashlib.sha256(os.pread(fd, 65536, int(o))).hexdigest()",
    "    except OSError as e: return errno.errorcode[e.errno]",
    "print(json.dumps({'size': str(st.st_size), 'blocks': str(st.st_blocks), 'reads': [at(o) for o in sys.argv[2:]]}))",
  ].join("\n");
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, file, ...offsets.map(String)], { encoding: "utf8" })) as Observed;
}

/**
 * lseek(2) SEEK_DATA and SEEK_HOLE of `file` from each offset (what each returns, or the
 * errno's name), from Python.
 */
function seeks(file: string, offsets: readonly bigint[]): string[] {
  const script = [
    "import errno, json, os, sys",
    "fd = os.open(sys.argv[1], os.O_RDONLY)",
    "def at(o, how):",
    "    try: return str(os.lseek(fd, int(o), how))",
    "    except OSError as e: return errno.errorcode[e.errno]",
    "print(json.dumps([at(o, h) for o in sys.argv[2:] for h in (os.SEEK_DATA, os.SEEK_HOLE)]))",
  ].join("\n");
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, file, ...offsets.map(String)], { encoding: "utf8" })) as string[];
}

/** One 300,000-byte file in an image of mkfs.erofs 1.5 with `args`, its inode extended. */
function makeImage(name: string, args: readonly string[]): string {
  const tree = join(work.path, `${name}-tree`);
  mkdirSync(tree);
  writeFileSync(join(tree, "f.bin"), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + 3) % 251)));
  const image = join(work.path, `${name}.erofs`);
  execFileSync("mkfs.erofs", ["--quiet", "--force-uid=100000", ...args, image, tree]);
  return image;
}

const LAYOUTS: ReadonlyArray<[string, string[]]> = [
  ["plain", []],
  ["chunked", ["--chunksize=4096"]],
  ["lz4hc", ["-zlz4hc"]],
  ["lz4hc with a tail packed inline", ["-zlz4hc", "-Eztailpacking"]],
];

describe.skipIf(!FUSE_AVAILABLE)("files stating an i_size past 2^53 (a damaged image)", () => {
  it.skipIf(!CAN_MAKE).each(LAYOUTS)("%s: size, blocks and reads below 2^53 answer as on a kernel mount; reads past it EOPNOTSUPP", async (name, args) => {
    const source = makeImage(name, args);
    const images = [2n ** 53n + 5n, 2n ** 60n + 5n].map((size) => ({ size, image: resizeInode(source, join(work.path, `${name}-${size}.erofs`), "/f.bin", size) }));
    const daemon = await FuseDaemon.start(images.map(({ image }) => ({ image })));
    try {
      for (const [i, { size, image }] of images.entries()) {
        const ours = observe(join(daemon.mountpoints[i]!, "f.bin"), [...BELOW, ...PAST]);
        expect(ours.size).toBe(String(size));
        // Offsets are numbers in erofs-ts: bytes past 2^53 are refused, not read from the wrong place.
        // (Python names errno 95 ENOTSUP: on Linux EOPNOTSUPP is the same number.)
        expect(ours.reads.slice(BELOW.length)).toEqual(PAST.map(() => "ENOTSUP"));
        const kernel = KernelMount.tryMount(image);
        if (!kernel) continue;
        try {
          // Bytes, EIO past the image, or EINVAL past the wrapped index count, as the kernel's.
          expect({ ...ours, reads: ours.reads.slice(0, BELOW.length) }).toEqual(observe(join(kernel.dir, "f.bin"), BELOW));
        } finally {
          kernel.unmount();
        }
      }
    } finally {
      await daemon.stop();
    }
  });

  it.skipIf(!CAN_MAKE)("chunked, its chunk table running past the image: SEEK_DATA/SEEK_HOLE answer as on a kernel mount, and at once at any size", async () => {
    const source = makeImage("chunked-seek", ["--chunksize=4096"]);
    // 2^20 chunks of 4 KiB, which a kernel walks in a moment; and 2^50 (2^62 bytes), which
    // it would walk for days, as erofs-fuse did (its whole daemon stalled): entries past
    // the image read as zeros, which map data, so the rest of the file is data.
    const [small, huge] = [2n ** 32n + 5n, 2n ** 62n + 5n].map((size) => resizeInode(source, join(work.path, `chunked-seek-${size}.erofs`), "/f.bin", size));
    const offsets = [0n, 4096n, 299_999n, 1n << 20n, 1n << 31n];
    const daemon = await FuseDaemon.start([{ image: small! }, { image: huge! }]);
    try {
      const far = seeks(join(daemon.mountpoints[1]!, "f.bin"), [1n << 31n, 1n << 52n]);
      expect(far).toEqual([String(1n << 31n), String(2n ** 62n + 5n), String(1n << 52n), String(2n ** 62n + 5n)]);
      const ours = seeks(join(daemon.mountpoints[0]!, "f.bin"), offsets);
      const kernel = KernelMount.tryMount(small!);
      if (!kernel) return;
      try {
        expect(ours).toEqual(seeks(join(kernel.dir, "f.bin"), offsets));
      } finally {
        kernel.unmount();
      }
    } finally {
      await daemon.stop();
    }
  });
});
