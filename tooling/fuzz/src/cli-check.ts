import { spawn } from "node:child_process";
import type { Violation } from "./walk.js";

/** What erofs-cli did with one mutant. */
export interface CliCheck {
  readonly runs: ReadonlyArray<{ readonly args: string; readonly status: number | null; readonly ms: number }>;
  readonly violations: readonly Violation[];
}

/**
 * Messages only an untyped exception produces (V8's wording). erofs-cli prints any error's
 * message after "erofs-cli: PATH:", so a TypeError inside would otherwise pass as a clean
 * exit 1.
 */
const UNTYPED = /Cannot read propert|is not a function|is not iterable|Invalid typed array length|Invalid array length|Array buffer allocation failed|Maximum call stack|out of memory|is not defined|Cannot convert a BigInt|Cannot mix BigInt|Unexpected token|\(reading '/;

/**
 * Runs `erofs-cli fsck` and `erofs-cli ls -R` on a mutant as a user would. The contract:
 * exit status 0 or 1 (0 is fine: a mutant may still be a valid image), never a signal, a
 * stack trace or a timeout; a failure says `erofs-cli: ...` and no V8 error text.
 */
export async function checkCli(
  cli: string,
  mutant: { image: string; devices: readonly string[]; fsoffset: number },
  timeoutMs: number,
  skipFsck = false,
): Promise<CliCheck> {
  const common = [...mutant.devices.flatMap((d) => ["--device", d]), ...(mutant.fsoffset ? ["--offset", String(mutant.fsoffset)] : [])];
  const runs: Array<{ args: string; status: number | null; ms: number }> = [];
  const violations: Violation[] = [];
  for (const cmd of skipFsck ? [["ls", "-R"]] : [["fsck"], ["ls", "-R"]]) {
    const args = [cmd[0]!, mutant.image, ...cmd.slice(1), ...common];
    const r = await runChild(process.execPath, [cli, ...args], timeoutMs);
    const label = `erofs-cli ${cmd.join(" ")}`;
    runs.push({ args: label, status: r.status, ms: r.ms });
    const bad = (detail: string) => violations.push({ kind: "cli", op: label, detail: `${detail}\n${r.stderr.slice(0, 2000)}` });
    if (r.timedOut) bad(`no exit after ${timeoutMs} ms (killed)`);
    else if (r.status === null) bad(`killed by signal ${r.signal}`);
    else if (r.status !== 0 && r.status !== 1) bad(`exit status ${r.status}`);
    else if (/^\s+at .*:\d+:\d+\)?$/m.test(r.stderr)) bad("stack trace on stderr");
    else if (r.status === 1 && !/^erofs-cli: /m.test(r.stderr)) bad("exit 1 without an erofs-cli: message");
    else if (r.status === 1 && UNTYPED.test(r.stderr)) bad("message of an untyped exception");
  }
  return { runs, violations };
}

function runChild(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      if (stderr.length < 64 << 10) stderr += b.toString("utf8");
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}
