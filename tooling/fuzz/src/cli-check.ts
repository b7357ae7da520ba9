import { runChild } from "./child.js";
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
export const UNTYPED = /Cannot read propert|is not a function|is not iterable|Invalid typed array length|Invalid array length|Array buffer allocation failed|Maximum call stack|out of memory|is not defined|Cannot convert a BigInt|Cannot mix BigInt|Unexpected token|\(reading '/;

/** A line of a JavaScript stack trace. */
export const STACK_LINE = /^\s+at .*:\d+:\d+\)?$/m;

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
    else if (STACK_LINE.test(r.stderr)) bad("stack trace on stderr");
    else if (r.status === 1 && !/^erofs-cli: /m.test(r.stderr)) bad("exit 1 without an erofs-cli: message");
    else if (r.status === 1 && UNTYPED.test(r.stderr)) bad("message of an untyped exception");
  }
  return { runs, violations };
}
