import { spawn } from "node:child_process";
import { closeSync, readFileSync, writeFileSync } from "node:fs";
import { devicePoller, nativePart, openFuseDevice, type ReaderKind } from "./protocol/device.js";

/** Runs a command, resolving with its exit code and what it printed on stderr. */
function run(cmd: string, argv: string[], extraFd?: number, env?: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const stdio: ("ignore" | "pipe" | number)[] = ["ignore", "ignore", "pipe"];
    if (extraFd !== undefined) stdio.push(extraFd);
    const child = spawn(cmd, argv, { stdio, ...(env ? { env } : {}) });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => resolve({ code: 127, stderr: e.message }));
    child.on("close", (code) => resolve({ code: code ?? 1, stderr: stderr.trim() }));
  });
}

export class MountError extends Error {
  override name = "MountError";
}

/** Whether this process may mount with mount(2) itself. */
export function canMountDirectly(): boolean {
  return (process.getuid?.() ?? 0) === 0;
}

/** How a mountpoint is mounted: allow_other, and generic flags such as noexec. */
export interface AttachOptions {
  readonly allowOther: boolean;
  readonly flags: readonly string[];
}

/**
 * A new FUSE connection mounted on `mountpoint`: as root with mount(2) (mountFuse), or
 * else through the setuid fusermount3, which sends the connection's descriptor back.
 */
export async function attachFuse(image: string, mountpoint: string, options: AttachOptions): Promise<{ fd: number; reader: ReaderKind }> {
  if (!canMountDirectly()) return mountWithFusermount(image, mountpoint, options);
  const device = openFuseDevice();
  try {
    await mountFuse(device.fd, image, mountpoint, options);
  } catch (e) {
    closeSync(device.fd);
    throw e;
  }
  return device;
}

/**
 * Mounts as an ordinary user: fusermount3 (setuid root) opens /dev/fuse, mounts it on
 * `mountpoint` (always nosuid,nodev for users), and sends the descriptor over the unix
 * socket named by `_FUSE_COMMFD`, as libfuse does. The native part makes the socket
 * pair and receives the descriptor; without it there is no way to mount as a user.
 */
async function mountWithFusermount(image: string, mountpoint: string, options: AttachOptions): Promise<{ fd: number; reader: ReaderKind }> {
  const native = nativePart();
  if (!native) {
    throw new MountError(`cannot mount ${mountpoint}: not root, and without the native part (no C compiler at build time) fusermount3's descriptor cannot be received`);
  }
  const [ours, theirs] = native.socketPair();
  let theirsOpen = true;
  try {
    // fsname shows the image in mount tables; commas would split the option list.
    const opts = ["ro", "nosuid", "nodev", "default_permissions", "subtype=erofs", `fsname=${image.replaceAll(",", "_")}`, ...options.flags];
    if (options.allowOther) opts.push("allow_other");
    const { code, stderr } = await run("fusermount3", ["-o", opts.join(","), "--", mountpoint], theirs, { ...process.env, _FUSE_COMMFD: "3" });
    // Closed before the descriptor arrives: its number must not be closed again once the
    // received descriptor may have taken it.
    closeSync(theirs);
    theirsOpen = false;
    if (code !== 0) throw new MountError(`cannot mount ${mountpoint}: ${stderr || `fusermount3 exited with ${code}`}`);
    const poll = devicePoller() !== null;
    return { fd: native.receiveFd(ours, poll), reader: poll ? "poll" : "thread-pool" };
  } finally {
    closeSync(ours);
    if (theirsOpen) closeSync(theirs);
  }
}

/**
 * Mounts an open /dev/fuse connection on `mountpoint` with mount(2), through mount(8)
 * with the device inherited as fd 3 (`-i`: no mount helper; the `fuse.erofs` type makes
 * the kernel's fuse filesystem record "erofs" as its subtype). Needs root (CAP_SYS_ADMIN);
 * users go through mountWithFusermount.
 */
export async function mountFuse(fd: number, image: string, mountpoint: string, options: AttachOptions): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  // nosuid, nodev: an image is untrusted input; its setuid files and device nodes are
  // shown as stored but grant nothing (as fusermount3 always does for users).
  const opts = [`fd=3`, "rootmode=40000", `user_id=${uid}`, `group_id=${gid}`, "ro", "nosuid", "nodev", "default_permissions", ...options.flags];
  if (options.allowOther) opts.push("allow_other");
  const { code, stderr } = await run("mount", ["-i", "-t", "fuse.erofs", "-o", opts.join(","), image, mountpoint], fd);
  if (code !== 0) throw new MountError(`cannot mount ${mountpoint}: ${stderr || `mount exited with ${code}`}`);
}

/** Unmounts (a user through fusermount3); a busy mount is detached lazily so the daemon can still end. */
export async function unmountFuse(mountpoint: string): Promise<void> {
  const direct = canMountDirectly();
  const first = direct ? await run("umount", [mountpoint]) : await run("fusermount3", ["-u", "--", mountpoint]);
  if (first.code === 0) return;
  const lazy = direct ? await run("umount", ["-l", mountpoint]) : await run("fusermount3", ["-u", "-z", "--", mountpoint]);
  if (lazy.code !== 0) throw new MountError(`cannot unmount ${mountpoint}: ${lazy.stderr || first.stderr}`);
}

/**
 * The kernel caps FUSE readahead at its default (128 KiB) whatever max_readahead INIT
 * agreed; the mount's backing device info takes a larger window, which sequential reads
 * of kernel-cached files need to reach disk speed. The device number comes from
 * /proc/self/mountinfo: stat(2) of the mountpoint would be a request to this very
 * process, and a synchronous one would deadlock it.
 */
export function raiseReadahead(mountpoint: string, kib: number): void {
  try {
    const dev = mountDevice(mountpoint);
    if (dev) writeFileSync(`/sys/class/bdi/${dev}/read_ahead_kb`, String(kib));
  } catch {
    // Not fatal: reads work with the default window, only slower.
  }
}

/** "major:minor" of the filesystem mounted last on `mountpoint`, from mountinfo. */
function mountDevice(mountpoint: string): string | null {
  let found: string | null = null;
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    // Fields: id parent major:minor root mountpoint ... (spaces in paths are octal-escaped).
    const f = line.split(" ");
    if (f.length > 4 && unescapeMountinfo(f[4]!) === mountpoint) found = f[2]!;
  }
  return found;
}

function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
