import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI, as a user runs it (the suite runs after `pnpm build`). */
export const CLI = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs erofs-cli without blocking the test worker (extractions of large images take seconds). */
export function runCli(args: string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") }));
    child.stdin.end(options.input);
  });
}
