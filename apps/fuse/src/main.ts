import { fork, spawn, spawnSync } from "node:child_process";
import { constants as osConstants } from "node:os";
import { fileURLToPath } from "node:url";
import { ErofsError } from "@erofs-ts/vfs";
import { runDaemon } from "./daemon.js";
import { parseArgs, UsageError, USAGE, VERSION_TEXT, type DaemonOptions } from "./options.js";
import { nativePart } from "./protocol/device.js";

/** Set in the background daemon's environment by the process that started it. */
const DAEMON_ENV = "EROFS_FUSE_DAEMON";
/** Set in the environment of the process serving in the foreground (-f), by the one the user started. */
const SERVING_ENV = "EROFS_FUSE_SERVING";

type ParentMessage = { ready: true } | { error: string };

function fail(message: string, code: number): never {
  process.stderr.write(`erofs-fuse: ${message}\n`);
  process.exit(code);
}

/**
 * Ends the serving process, once stdout and stderr have handed the OS what was written to
 * them (a pipe takes a long write in pieces). process.exit joins V8's worker threads, and
 * one of them can be in a compile job waiting for the main thread to collect garbage,
 * which it no longer does (nodejs/node#54918): seen once in ~400 daemons of a
 * kernel-differential sweep, its mount gone, its main thread in NodePlatform::Shutdown
 * for good and deaf to SIGTERM (gdb). With the native part the process ends by _exit,
 * which waits for nothing: by then the daemon has unmounted and closed what it holds.
 */
async function endServing(code: number): Promise<never> {
  // An empty write's callback runs once every write before it has been handed to the OS.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((done) => stream.write("", () => done()))));
  nativePart()?.exitNow(code);
  process.exit(code);
}

function messageOf(e: unknown): string {
  if (ErofsError.isInstance(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Foreground: serve here, log to stderr. */
async function foreground(options: DaemonOptions): Promise<never> {
  try {
    const code = await runDaemon(options, { ready: () => {}, log: (l) => process.stderr.write(`${l}\n`) });
    return await endServing(code);
  } catch (e) {
    process.stderr.write(`erofs-fuse: ${messageOf(e)}\n`);
    return await endServing(1);
  }
}

/** The background daemon: reports ready (or the failure) to the starting process, then serves. */
async function daemon(options: DaemonOptions): Promise<never> {
  try {
    const code = await runDaemon(options, {
      ready: () => {
        process.send?.({ ready: true } satisfies ParentMessage);
        process.disconnect?.();
      },
      // Nobody reads a detached daemon's stderr; its failures are answered EIO and counted.
      log: () => {},
    });
    return await endServing(code);
  } catch (e) {
    // Once the channel has written the message: _exit would drop a write still queued.
    await new Promise<void>((sent) => (process.send ? process.send({ error: messageOf(e) } satisfies ParentMessage, () => sent()) : sent()));
    return await endServing(1);
  }
}

/**
 * Node and malloc settings of the process that serves, which must be given when it
 * starts: so the daemon is always a process started for it, in the foreground (-f) too.
 */
function servingSettings(marker: string): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  return {
    // A young generation of 2 MiB semi-spaces instead of V8's 16: requests allocate many
    // short-lived buffers, and a large young generation keeps its high-water mark
    // resident. Measured on app-a + app-b through two mounts: about 25 MB less RSS, with
    // no measurable loss of throughput.
    execArgv: [...process.execArgv, "--max-semi-space-size=2"],
    // A fixed mmap threshold: freed read buffers (1 MiB each) go back to the system at
    // once instead of staying in malloc's heap after the threshold adapts upwards.
    // One malloc arena for all threads: each thread that allocates (V8's compiler
    // threads above all) had an arena of its own, which gave its free top back after
    // each burst and faulted it in again at the next, at ~11 µs a page on the VM
    // measured: 11-12k faults in a fresh daemon's first walk of app-a-lz4, ~5k with one
    // arena, and first walks 20-25% faster for plain, lz4 and zstd (interleaved rounds).
    // Idle RSS was the same (app-a + app-b through two mounts, 5 runs each).
    env: { MALLOC_MMAP_THRESHOLD_: "131072", MALLOC_ARENA_MAX: "1", ...process.env, [marker]: "1" },
  };
}

/**
 * Whether this process was started with settings of its own for what servingSettings
 * sets (a service unit may give them, as the README shows): then -f serves here.
 */
function servingSettingsGiven(): boolean {
  const semiSpace = (args: string) => /--max-semi-space-size\b/.test(args);
  const env = process.env;
  return env.MALLOC_ARENA_MAX !== undefined && env.MALLOC_MMAP_THRESHOLD_ !== undefined && (semiSpace(process.execArgv.join(" ")) || semiSpace(env.NODE_OPTIONS ?? ""));
}

/**
 * -f without those settings: serve in a child started with them, and stay in the
 * foreground until it ends, with its exit status. Served in this process, without them,
 * an idle erofs-fuse that had read app-a + app-b through two mounts held 58-60 MB of
 * anonymous memory; the child held 28, this process 12 more. Signals sent to this process
 * go on to the child (stop, stats); its output is this process's.
 */
function foregroundChild(argv: string[]): void {
  const { execArgv, env } = servingSettings(SERVING_ENV);
  const child = spawn(process.execPath, [...execArgv, ENTRY, ...argv], { stdio: "inherit", env });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1"] as const) process.on(signal, () => child.kill(signal));
  child.on("error", (e) => fail(`cannot start the daemon: ${e.message}`, 1));
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (signal ? osConstants.signals[signal] : 0)));
}

/** Without -f: start the daemon detached and return once every mount is live. */
function background(argv: string[]): void {
  const { execArgv, env } = servingSettings(DAEMON_ENV);
  const child = fork(ENTRY, argv, { execArgv, detached: true, stdio: ["ignore", "ignore", "ignore", "ipc"], env });
  let settled = false;
  child.on("message", (m: ParentMessage) => {
    settled = true;
    if ("error" in m) fail(m.error, 1);
    child.unref();
    child.disconnect();
    process.exit(0);
  });
  child.on("exit", (code) => {
    if (!settled) fail(`daemon exited (${code ?? "signal"}) before the mounts were ready`, 1);
  });
}

/** The CommonJS entry that sizes the thread pool before this module loads. */
const ENTRY = fileURLToPath(new URL("../bin/erofs-fuse.cjs", import.meta.url));

function main(): void {
  const argv = process.argv.slice(2);
  if (!process.env.UV_THREADPOOL_SIZE) {
    // Started as dist/main.js: the pool is already running at its default size, too small
    // for the outstanding device reads. Go through the entry that sizes it.
    const r = spawnSync(process.execPath, [ENTRY, ...argv], { stdio: "inherit" });
    process.exit(r.status ?? 1);
  }
  let options: DaemonOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message === USAGE || e.message === VERSION_TEXT) {
        process.stdout.write(`${e.message}\n`);
        process.exit(0);
      }
      fail(e.showUsage ? `${e.message}\n${USAGE}` : e.message, 2);
    }
    fail(messageOf(e), 2);
  }
  // Once, by the process the user started (a background daemon's stderr goes nowhere).
  const serving = process.env[DAEMON_ENV] ? "daemon" : process.env[SERVING_ENV] && options.foreground ? "foreground" : null;
  if (!serving) for (const notice of options.notices) process.stderr.write(`erofs-fuse: ${notice}\n`);
  if (serving === "daemon") void daemon(options);
  else if (serving === "foreground" || (options.foreground && servingSettingsGiven())) void foreground(options);
  else if (options.foreground) foregroundChild(argv);
  else background(argv);
}

main();
