import { parseArgs } from "node:util";
import { parseByteCount } from "@erofs-ts/vfs";
import { errorReason } from "./context.js";
import { UsageError } from "./errors.js";

/** Options as node:util parseArgs declares them. */
export type OptionSpecs = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

export interface ParsedCommandLine {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/**
 * A command's arguments against the options it takes. An option it does not take is an
 * error, not ignored: `share --offset N` used to run at offset 0 without a word.
 *
 * Errors are the first offending option, in this tool's words ("unknown option -z",
 * "--offset needs a value"). parseArgs's own errors are sentences about its syntax
 * ("To specify a positional argument starting with a '-', place it ... after '--'"), so
 * the arguments are first read leniently for their tokens and checked here; the strict
 * parse that follows then finds nothing to reject.
 */
export function parseCommandLine(args: readonly string[], options: OptionSpecs): ParsedCommandLine {
  const { tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!spec) throw new UsageError(`unknown option ${token.rawName}`);
    if (spec.type === "string" && token.value === undefined) throw new UsageError(`${token.rawName} needs a value`);
    if (spec.type === "string" && !token.inlineValue && token.value?.startsWith("-")) {
      // As parseArgs rules: a separate value that looks like an option is more likely a forgotten value.
      const joined = token.rawName.startsWith("--") ? `${token.rawName}=${token.value}` : `${token.rawName}${token.value}`;
      throw new UsageError(`${token.rawName} needs a value; to give "${token.value}", write ${joined}`);
    }
    if (spec.type === "boolean" && token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
  }
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values: values as ParsedCommandLine["values"], positionals };
  } catch (e) {
    // What the checks above do not foresee (a later Node's new rule) is still a usage error.
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/**
 * The names of a usage line's required arguments after the command, "..." dropped:
 * "cat IMAGE PATH... [--stats]" gives IMAGE, PATH. Errors name what is missing by them.
 */
export function requiredArguments(usage: string): string[] {
  return usage
    .split(" ")
    .slice(1)
    .filter((word) => /^[A-Z]+(\.\.\.)?$/.test(word))
    .map((word) => word.replace(/\.\.\.$/, ""));
}

/**
 * An option's byte count (decimal or 0x hex, by the vfs's rules); a bad one is a usage
 * error, made by `usageError` where the caller words those its own way.
 */
export function byteCountOption(text: string, option: string, usageError: (message: string) => Error = (m) => new UsageError(m)): number {
  try {
    return parseByteCount(text, option);
  } catch (e) {
    throw usageError(errorReason(e, option));
  }
}
