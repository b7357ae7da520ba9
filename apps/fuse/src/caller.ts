import { readFileSync, readlinkSync } from "node:fs";

/** CAP_SYS_ADMIN's bit in a capability set. */
const CAP_SYS_ADMIN = 21n;

/**
 * Whether the process behind a request holds CAP_SYS_ADMIN in the daemon's user
 * namespace: the kernel lists trusted.* attributes only to such callers, and FUSE passes
 * LISTXATTR on without that filter. Read from /proc: its CapEff line and its user
 * namespace. A pid of 0 (a caller outside the daemon's pid namespace), a process gone
 * meanwhile or a /proc this daemon may not read all count as unprivileged: hiding a name
 * is the safe way to be wrong.
 */
export function callerHasSysAdmin(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // Capabilities count in the task's own user namespace; one made by an unprivileged
    // user grants nothing here.
    if (readlinkSync(`/proc/${pid}/ns/user`) !== readlinkSync("/proc/self/ns/user")) return false;
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return line !== null && ((BigInt(`0x${line[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    return false;
  }
}
