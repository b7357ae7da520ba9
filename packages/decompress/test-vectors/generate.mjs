#!/usr/bin/env node
// Regenerates the committed codec vectors with independent encoders (Debian's lz4, xz,
// gzip and zstd): `node packages/decompress/test-vectors/generate.mjs`. For each sample
// NAME it writes NAME.bin (the data) and NAME.<ext>, the encoding as EROFS stores it:
//   .lz4    one raw LZ4 block (the frame `lz4 -B4 --no-frame-crc` writes, unwrapped)
//   .mlzma  MicroLZMA (`xz --format=raw --lzma1=...` with the complemented properties
//           byte in place of the range coder's leading zero)
//   .deflate raw DEFLATE (the body of a `gzip -n` member)
//   .zst    one zstd frame (`zstd --no-check`; with its content size unless the name
//           ends in -nosize)
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
const words = "alpha beta gamma delta pcluster lcluster inode dirent superblock".split(" ");
function text(n, seed) {
  const r = prng(seed);
  let s = "";
  while (s.length < n) s += words[r() % words.length] + (r() % 9 === 0 ? "\n" : " ");
  return Buffer.from(s.slice(0, n));
}
function runs(n, seed) {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; ) {
    const len = 1 + (r() % 200);
    b.fill(r() & 0xff, i, Math.min(n, i + len));
    i += len;
  }
  return b;
}
function alphabet(n, seed) {
  const r = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => "ACGT".charCodeAt(r() & 3)));
}

const run = (cmd, args, input) => execFileSync(cmd, args, { input, stdio: ["pipe", "pipe", "ignore"] });

function lz4Block(data) {
  const f = run("lz4", ["-B4", "--no-frame-crc", "-c"], data);
  const flg = f[4];
  let p = 7 + (flg & 8 ? 8 : 0) + (flg & 1 ? 4 : 0);
  const word = f.readUInt32LE(p);
  if (word >>> 31) throw new Error("lz4 stored the block uncompressed");
  return f.subarray(p + 4, p + 4 + word);
}
function microLzma(data, lc, lp, pb) {
  const raw = Buffer.from(run("xz", ["--format=raw", `--lzma1=preset=6,lc=${lc},lp=${lp},pb=${pb}`, "-c"], data));
  if (raw[0] !== 0) throw new Error("LZMA1 stream does not start with 0");
  raw[0] = ~((pb * 5 + lp) * 9 + lc) & 0xff;
  return raw;
}
function deflate(data) {
  const gz = run("gzip", ["-n", "-9", "-c"], data);
  if (gz[3] !== 0) throw new Error("unexpected gzip header flags");
  return gz.subarray(10, gz.length - 8);
}

const samples = [
  ["text", text(6000, 1), ["lz4", "mlzma", "deflate", "zst"]],
  ["runs", runs(5000, 2), ["lz4", "mlzma", "deflate", "zst"]],
  ["acgt", alphabet(4000, 3), ["lz4", "mlzma", "deflate", "zst"]],
  ["text-lc0lp2pb0", text(3000, 4), ["mlzma"]],
  ["text-nosize", text(3000, 5), ["zst"]],
];
for (const [name, data, exts] of samples) {
  writeFileSync(join(here, `${name}.bin`), data);
  for (const ext of exts) {
    const enc =
      ext === "lz4" ? lz4Block(data)
      : ext === "mlzma" ? (name.endsWith("-lc0lp2pb0") ? microLzma(data, 0, 2, 0) : microLzma(data, 3, 0, 2))
      : ext === "deflate" ? deflate(data)
      // Through stdin zstd does not know the size and leaves it out of the frame header.
      : name.endsWith("-nosize") ? run("zstd", ["--no-check", "-c"], data)
      : run("zstd", ["--no-check", "-c", "--stream-size=" + data.length], data);
    writeFileSync(join(here, `${name}.${ext}`), enc);
  }
}
