import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A read-only kernel mount of an image, the second oracle beside the manifests: used
 * where a manifest is borrowed from another image (the app-a-* variants) and for images
 * made during the test run. Null when not root or the kernel cannot mount it.
 */
export class KernelMount {
  private constructor(
    readonly dir: string,
    private readonly loops: string[],
  ) {}

  /**
   * `options` are further mount options (say "noacl"). The image goes on a loop device of
   * its own: the kernel gives a second mount of one block device the superblock of the
   * first, options and all, and mount(8) would reuse a loop device already on the file.
   */
  static tryMount(image: string, options: { devices?: string[]; fsoffset?: number; options?: string[] } = {}): KernelMount | null {
    if (process.getuid?.() !== 0) return null;
    const dir = mkdtempSync(join(tmpdir(), "erofs-kmount-"));
    const loops: string[] = [];
    const attach = (file: string): string => {
      const loop = execFileSync("losetup", ["-f", "--show", "-r", file], { encoding: "utf8" }).trim();
      loops.push(loop);
      return loop;
    };
    try {
      const opts = ["ro"];
      for (const d of options.devices ?? []) opts.push(`device=${attach(d)}`);
      if (options.fsoffset) opts.push(`fsoffset=${options.fsoffset}`);
      opts.push(...(options.options ?? []));
      execFileSync("mount", ["-t", "erofs", "-o", opts.join(","), attach(image), dir], { stdio: "pipe" });
      return new KernelMount(dir, loops);
    } catch {
      for (const l of loops) execFileSync("losetup", ["-d", l], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
      return null;
    }
  }

  sha256(relPath: Buffer): string {
    return createHash("sha256").update(readFileSync(Buffer.concat([Buffer.from(this.dir + "/"), relPath]))).digest("hex");
  }

  unmount(): void {
    execFileSync("umount", [this.dir], { stdio: "ignore" });
    for (const l of this.loops) execFileSync("losetup", ["-d", l], { stdio: "ignore" });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What mount(2) of `image` (read-only, on a loop device of its own) answers: 0 when the
 * kernel mounts it (it is unmounted at once), else the errno it refuses it with, which
 * mount(8) does not print. Null when not root.
 */
export function kernelMountErrno(image: string): number | null {
  if (process.getuid?.() !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "erofs-kmount-"));
  const loop = execFileSync("losetup", ["-f", "--show", "-r", image], { encoding: "utf8" }).trim();
  try {
    const script = [
      "import ctypes, sys",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "MS_RDONLY = 1",
      "if libc.mount(sys.argv[1].encode(), sys.argv[2].encode(), b'erofs', MS_RDONLY, None) == 0:",
      "    libc.umount(sys.argv[2].encode()); print(0)",
      "else:",
      "    print(ctypes.get_errno())",
    ].join("\n");
    const r = spawnSync("/usr/bin/python3", ["-c", script, loop, dir], { encoding: "utf8" });
    const errno = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isInteger(errno)) throw new Error(`mount probe failed: ${r.stderr}`);
    return errno;
  } finally {
    execFileSync("losetup", ["-d", loop], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The names os.scandir lists from a directory of a kernel mount until it fails, and the
 * errno it fails with (0: none): getdents(2) hands out the entries before a fault first.
 */
export function kernelDirListing(path: string): { names: string[]; errno: number } {
  const script = [
    "import json, os, sys",
    "names, errno = [], 0",
    "try:",
    "    with os.scandir(sys.argv[1]) as it:",
    "        for e in it: names.append(e.name)",
    "except OSError as e:",
    "    errno = e.errno",
    "print(json.dumps({'names': names, 'errno': errno}))",
  ].join("\n");
  const r = spawnSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`listing probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { names: string[]; errno: number };
}
