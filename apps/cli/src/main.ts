import { createRequire } from "node:module";
import { systemErrorReason } from "@erofs-ts/format";
import { ErofsError, mount, type ErofsFs } from "@erofs-ts/vfs";
import { byteCountOption, parseCommandLine, requiredArguments, type OptionSpecs } from "./command-line.js";
import { catCommand } from "./commands/cat.js";
import { extractCommand } from "./commands/extract.js";
import { fingerprintsCommand } from "./commands/fingerprints.js";
import { fsckCommand } from "./commands/fsck.js";
import { infoCommand } from "./commands/info.js";
import { lsCommand } from "./commands/ls.js";
import { mapCommand } from "./commands/map.js";
import { readlinkCommand } from "./commands/readlink.js";
import { shareCommand } from "./commands/share.js";
import { statCommand } from "./commands/stat.js";
import { xattrCommand } from "./commands/xattr.js";
import { errorReason, type Command, type MultiImageCommand } from "./context.js";
import { ReportedFailure, UsageError } from "./errors.js";
import { Output } from "./output.js";

const COMMANDS: readonly (Command | MultiImageCommand)[] = [
  infoCommand,
  lsCommand,
  statCommand,
  catCommand,
  readlinkCommand,
  xattrCommand,
  mapCommand,
  extractCommand,
  fsckCommand,
  fingerprintsCommand,
  shareCommand,
];

/** What every command takes. */
const HELP_OPTION: OptionSpecs = { help: { type: "boolean", short: "h" } };

/** What every command that mounts one IMAGE takes: not share, which mounts several. */
const IMAGE_OPTIONS: OptionSpecs = {
  device: { type: "string", multiple: true },
  offset: { type: "string" },
};

function isMultiImage(command: Command | MultiImageCommand): command is MultiImageCommand {
  return "runImages" in command;
}

function optionsOf(command: Command | MultiImageCommand): OptionSpecs {
  return { ...HELP_OPTION, ...(isMultiImage(command) ? {} : IMAGE_OPTIONS), ...command.options };
}

/** One command's usage line, with the image options it takes too. */
function commandUsage(command: Command | MultiImageCommand): string {
  return `usage: erofs-cli ${command.usage}${isMultiImage(command) ? "" : " [--device FILE]... [--offset N]"}`;
}

/** This package's version: src/ and dist/ both sit one level below its package.json. */
const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

function usage(): string {
  const lines = COMMANDS.map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`);
  return [
    "usage: erofs-cli <command> IMAGE [ARGS] [--device FILE]... [--offset N]",
    "",
    "commands:",
    ...lines,
    "",
    "--device FILE  an extra device (blob), repeatable, in device-table order (the kernel's device=); not for share",
    "--offset N     the filesystem starts N bytes into IMAGE (the kernel's fsoffset=); not for share",
    "--json         machine-readable output (info, ls, stat, xattr, fsck, share)",
    "-h, --help     after a command: its usage line",
    "--version, -V  print the version",
    "exit status: 0 success, 1 filesystem error, 2 bad usage",
  ].join("\n");
}

/** Runs one command line; returns the exit status. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V") {
    process.stdout.write(`erofs-cli ${VERSION}\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? process.stderr : process.stdout).write(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  let fs: ErofsFs | undefined;
  let image = "";
  let failures = 0;
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const { values, positionals } = withCommandName(command, () => parseCommandLine(rest, optionsOf(command)));
    if (values.help) {
      process.stdout.write(`${commandUsage(command)}\n${command.summary}\n`);
      return 0;
    }
    const [img, ...args] = positionals;
    if (!img) throw new UsageError(`${command.name}: missing IMAGE`);
    if (isMultiImage(command)) {
      image = positionals.join(" ");
      await command.runImages({
        images: positionals,
        options: values,
        out: new Output(process.stdout),
        usageError: (message) => new UsageError(`${command.name}: ${message}`),
      });
      return 0;
    }
    if (args.length < command.minArgs) {
      const missing = requiredArguments(command.usage)[1 + args.length] ?? "argument";
      throw new UsageError(`${command.name}: missing ${missing}`);
    }
    if (args.length > command.maxArgs) throw new UsageError(`${command.name}: too many arguments`);
    image = img;
    const fsoffset = values.offset === undefined ? 0 : withCommandName(command, () => byteCountOption(values.offset as string, "--offset"));
    // One command at a time: reads on this thread are faster than through the thread pool.
    fs = await mount(img, { devices: (values.device as string[] | undefined) ?? [], fsoffset, syncReads: true });
    const out = new Output(process.stdout);
    await command.run({
      fs,
      image: img,
      args,
      options: values,
      out,
      report(where, e) {
        failures++;
        process.stderr.write(`erofs-cli: ${where}: ${errorReason(e, where)}\n`);
      },
    });
  } catch (e) {
    if (e instanceof UsageError) {
      // Within a command, its own usage line: the whole list is one `erofs-cli --help` away.
      process.stderr.write(`erofs-cli: ${e.message}\n${command ? commandUsage(command) : usage()}\n`);
      return 2;
    }
    if (isEpipe(e)) return 0;
    if (e instanceof ReportedFailure) return 1;
    process.stderr.write(`erofs-cli: ${image || name}: ${errorReason(e, image)}\n`);
    return 1;
  } finally {
    await fs?.unmount().catch(() => {});
  }
  return failures ? 1 : 0;
}

/** Runs `parse`, a usage error from it naming the command first. */
function withCommandName<T>(command: Command | MultiImageCommand, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(`${command.name}: ${e.message}`) : e;
  }
}

function isEpipe(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === "EPIPE";
}

// Closing stdout early (`erofs-cli cat … | head -c1`) ends the process quietly.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  process.stderr.write(`erofs-cli: stdout: ${systemErrorReason(e)}\n`);
  process.exit(1);
});

/**
 * Exits once stdout and stderr have taken what was written, instead of letting the event
 * loop run dry. When it does, Node waits for V8's background tasks to finish
 * (NodePlatform::DrainTasks), and on glibc before 2.41 the wakeup of the threads that run
 * them can be lost (sourceware BZ 25847): then that wait never ends. Seen with gdb, in
 * about 1 run of `ls -R` in 300 on this project's 2-core VM under load: every task thread
 * asleep, the main thread in DrainTasks, nothing else pending. process.exit does not wait
 * for those tasks (900 runs after this change: no hang); it only joins the threads, each
 * after the task it is running. One such task can still wait for the main thread to
 * collect garbage, and then the join never ends (nodejs/node#54918): erofs-fuse, whose
 * native part can _exit, met that once in ~400 daemons; the CLI has no native part, and
 * no command of it has been seen to hang so.
 */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const flushed = (): void => {
    if (--pending === 0) process.exit(code);
  };
  // An empty write's callback runs once every write before it has been handed to the OS.
  process.stdout.write("", flushed);
  process.stderr.write("", flushed);
}

main(process.argv.slice(2)).then(exitWhenFlushed, (e: unknown) => {
  // main never throws; this is the last guard against a stack trace.
  process.stderr.write(`erofs-cli: ${ErofsError.isInstance(e) ? e.message : String(e)}\n`);
  exitWhenFlushed(1);
});
