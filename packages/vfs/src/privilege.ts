import { readFileSync, readlinkSync } from "node:fs";

/** CAP_SYS_ADMIN's bit in a capability set. */
const CAP_SYS_ADMIN = 21n;

/**
 * Whether a process (this one by default) holds CAP_SYS_ADMIN in this process's user
 * namespace: the kernel shows trusted.* attributes only to such callers (XattrCaller).
 * Read from /proc: the process's CapEff line and its user namespace. A pid of 0 (as FUSE
 * gives a caller outside the daemon's pid namespace), a process gone meanwhile or a /proc
 * entry this process may not read all count as unprivileged: hiding a name is the safe
 * way to be wrong.
 */
export function hasCapSysAdmin(pid: number | "self" = "self"): boolean {
  if (pid !== "self" && (!Number.isInteger(pid) || pid <= 0)) return false;
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
