import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ErofsError, type Inode, type Superblock } from "@erofs-ts/format";
import { onePassReads, type ErofsFs, type ReadStreamOptions } from "./filesystem.js";

/**
 * Fingerprints for images made without them (no `--xattr-inode-digest`): a small text
 * index, one line per regular file, holding what mkfs would have stored in the file's
 * fingerprint xattr ("sha256:" and the 32-byte digest of its content). Mounting with it
 * (`fingerprints=FILE` and `inode_share`) lets those files share pages with identical
 * files of any other image in the domain, fingerprinted either way.
 *
 *   # erofs-ts fingerprints v1
 *   image <uuid hex> <build time> <inode count>
 *   <nid> <size> sha256:<hex digest>
 *
 * The `image` line ties the index to one image: a stale or foreign index would make
 * files share pages with files of other content, so it is refused.
 */
export const FINGERPRINT_INDEX_HEADER = "# erofs-ts fingerprints v1";
const SHA256_PREFIX = Buffer.from("sha256:");
/** An index line is ~90 bytes; this bounds what a hostile index can make us hold. */
const MAX_INDEX_BYTES = 256 << 20;

export class FingerprintIndex {
  private constructor(
    readonly imageId: string,
    readonly entries: ReadonlyMap<bigint, { size: number; fingerprint: Uint8Array }>,
  ) {}

  /** The identity line an index for this superblock carries. */
  static imageIdOf(sb: Superblock): string {
    return `${Buffer.from(sb.uuid).toString("hex")} ${sb.buildTime} ${sb.inodeCount}`;
  }

  static async load(path: string): Promise<FingerprintIndex> {
    let text: string;
    try {
      const bytes = await readFile(path);
      if (bytes.length > MAX_INDEX_BYTES) throw new ErofsError("EINVAL", "fingerprint index is implausibly large", path);
      text = bytes.toString("utf8");
    } catch (e) {
      if (ErofsError.isInstance(e)) throw e;
      throw new ErofsError("EINVAL", `cannot read fingerprint index: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
    }
    return FingerprintIndex.parse(text, path);
  }

  static parse(text: string, where = "fingerprint index"): FingerprintIndex {
    const lines = text.split("\n").filter((l) => l !== "");
    if (lines[0] !== FINGERPRINT_INDEX_HEADER || !lines[1]?.startsWith("image ")) {
      throw new ErofsError("EINVAL", "not an erofs-ts fingerprint index", where);
    }
    const entries = new Map<bigint, { size: number; fingerprint: Uint8Array }>();
    for (let i = 2; i < lines.length; i++) {
      const m = /^(\d+) (\d+) sha256:([0-9a-f]{64})$/.exec(lines[i]!);
      if (!m) throw new ErofsError("EINVAL", `bad fingerprint index line ${i + 1}`, where);
      const size = Number(m[2]);
      if (!Number.isSafeInteger(size)) throw new ErofsError("EINVAL", `bad size on line ${i + 1}`, where);
      entries.set(BigInt(m[1]!), { size, fingerprint: Buffer.concat([SHA256_PREFIX, Buffer.from(m[3]!, "hex")]) });
    }
    return new FingerprintIndex(lines[1].slice("image ".length), entries);
  }

  /** The index text for `files` of the image with superblock `sb`. */
  static format(sb: Superblock, files: Iterable<{ nid: bigint; size: number; sha256: Uint8Array }>): string {
    const lines = [FINGERPRINT_INDEX_HEADER, `image ${FingerprintIndex.imageIdOf(sb)}`];
    for (const f of files) lines.push(`${f.nid} ${f.size} sha256:${Buffer.from(f.sha256).toString("hex")}`);
    return lines.join("\n") + "\n";
  }

  /** Refuses an index made for another image (or another build of it). */
  checkImage(sb: Superblock, where: string): void {
    if (this.imageId !== FingerprintIndex.imageIdOf(sb)) {
      throw new ErofsError("EINVAL", "fingerprint index was made for another image", where);
    }
  }

  /** The fingerprint of a regular file, when the index has one for its nid and size. */
  fingerprintOf(inode: Inode): Uint8Array | null {
    const e = this.entries.get(inode.nid);
    return e && e.size === inode.size ? e.fingerprint : null;
  }
}

/** SHA-256 of a file's content; a failure to read it names the file (the walk stops there). */
async function contentDigest(fs: ErofsFs, inode: Inode, path: string, reads: ReadStreamOptions): Promise<Uint8Array> {
  const h = createHash("sha256");
  try {
    for await (const c of fs.readChunks(inode, reads)) h.update(c);
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    throw new ErofsError(e.code, `${path}: ${e.message}`, undefined, { cause: e });
  }
  return h.digest();
}

/**
 * Computes the index of a mounted image: every regular file (each inode once, hard links
 * included) hashed as a stream. `onFile` reports progress.
 */
export async function buildFingerprintIndex(fs: ErofsFs, onFile?: (files: number) => void): Promise<string> {
  const files: Array<{ nid: bigint; size: number; sha256: Uint8Array }> = [];
  const seen = new Set<bigint>();
  const names = new TextDecoder();
  // The hash has consumed each chunk before the next fills the buffer.
  const reads = onePassReads();
  const walk = async (dir: Inode, path: string): Promise<void> => {
    for await (const e of fs.entries(dir)) {
      if (seen.has(e.nid)) continue;
      seen.add(e.nid);
      const inode = await fs.iget(e.nid);
      const here = `${path}/${names.decode(e.name)}`;
      if (inode.kind === "dir") await walk(inode, here);
      else if (inode.kind === "file") {
        files.push({ nid: inode.nid, size: inode.size, sha256: await contentDigest(fs, inode, here, reads) });
        onFile?.(files.length);
      }
    }
  };
  await walk(await fs.root(), "");
  files.sort((a, b) => (a.nid < b.nid ? -1 : 1));
  return FingerprintIndex.format(fs.superblock, files);
}
