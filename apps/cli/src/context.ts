import { ErofsError, type ErofsFs } from "@erofs-ts/vfs";
import type { OptionSpecs } from "./command-line.js";
import type { Output } from "./output.js";

/** What a command gets: the mounted image, its path, arguments and options, and the outputs. */
export interface CommandContext {
  readonly fs: ErofsFs;
  readonly image: string;
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly out: Output;
  /** Reports a non-fatal error (exit status 1 at the end) as `erofs-cli: where: reason`. */
  report(where: string, error: unknown): void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Command-specific options for node:util parseArgs. */
  readonly options: OptionSpecs;
  readonly minArgs: number;
  readonly maxArgs: number;
  run(ctx: CommandContext): Promise<void>;
}

/** What a command over several images gets: it mounts them itself (e.g. with one cache). */
export interface MultiImageContext {
  readonly images: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly out: Output;
  usageError(message: string): Error;
}

export interface MultiImageCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Command["options"];
  runImages(ctx: MultiImageContext): Promise<void>;
}

/** Why `e` failed, for a line that names `where` first: a library error about that same place does not name it again. */
export function errorReason(e: unknown, where?: string): string {
  if (ErofsError.isInstance(e) && where !== undefined && e.where === where) return e.reason;
  if (e instanceof Error) return e.message;
  return String(e);
}
