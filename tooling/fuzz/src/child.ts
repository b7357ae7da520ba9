import { spawn } from "node:child_process";

export interface ChildOutcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What the child wrote to stderr and stdout (the first 64 KiB of each). */
  readonly stderr: string;
  readonly stdout: string;
  readonly ms: number;
  readonly timedOut: boolean;
}

const KEPT = 64 << 10;

/** Runs a command to its end, killed with SIGKILL after `timeoutMs`; `env` is added to this process's. */
export function runChild(cmd: string, args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (b: Buffer) => {
      if (stderr.length < KEPT) stderr += b.toString("utf8");
    });
    child.stdout.on("data", (b: Buffer) => {
      if (stdout.length < KEPT) stdout += b.toString("utf8");
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", () => {
      // Not started (spawn failed): reported as a status-less exit below by "close".
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stderr, stdout, ms: Date.now() - t0, timedOut });
    });
  });
}
