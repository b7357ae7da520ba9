/**
 * Errors raised by every erofs-ts layer. One class, an errno-style `code`, and the
 * place where the fault was found, so callers (the CLI, the FUSE daemon) can map it to
 * an exit status or an errno without parsing messages.
 */

/** errno-style codes and the Linux errno each maps to (EFSCORRUPTED is EUCLEAN). */
export const ERRNO = {
  EFSCORRUPTED: 117,
  ENOENT: 2,
  ENOTDIR: 20,
  EISDIR: 21,
  ENODATA: 61,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  EINVAL: 22,
  EIO: 5,
  ENAMETOOLONG: 36,
  ELOOP: 40,
  EROFS: 30,
  ENOMEM: 12,
  ENXIO: 6,
  EBADMSG: 74,
} as const;

export type ErofsErrorCode = keyof typeof ERRNO;

const MARKER = Symbol.for("erofs-ts.error");

export class ErofsError extends Error {
  readonly code: ErofsErrorCode;
  /** Where the fault was found: a structure and offset, a path, an option name. */
  readonly where: string | undefined;
  /** The message without `where`, for a caller that names the place itself (`IMAGE: reason`). */
  readonly reason: string;
  readonly [MARKER] = true;

  constructor(code: ErofsErrorCode, message: string, where?: string, options?: { cause?: unknown }) {
    super(where ? `${message} (${where})` : message, options);
    this.name = "ErofsError";
    this.code = code;
    this.where = where;
    this.reason = message;
  }

  get errno(): number {
    return ERRNO[this.code];
  }

  /** True for an ErofsError from any copy of this package (checks survive duplicate installs). */
  static isInstance(e: unknown): e is ErofsError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
  }
}

/**
 * A host system error's text without Node's decoration: "permission denied (EACCES)" for
 * "EACCES: permission denied, open '/x'" (or ", write" without a path), so that a caller
 * naming the path itself does not name it twice.
 */
export function systemErrorReason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as Error & { code?: unknown }).code;
  if (typeof code !== "string") return e.message;
  return `${e.message.replace(/^[A-Z]+: /, "").replace(/, \w+( '.*')?$/, "")} (${code})`;
}

/** The image contradicts itself or the format: a corrupted or hostile image. */
export function corrupted(message: string, where?: string): ErofsError {
  return new ErofsError("EFSCORRUPTED", message, where);
}

/** A valid image uses something this reader does not implement. */
export function unsupported(message: string, where?: string): ErofsError {
  return new ErofsError("EOPNOTSUPP", message, where);
}

/**
 * Passes an on-disk count or length through only if it is a safe integer within
 * [0, maximum]; anything else is corruption. Every allocation and loop bound that comes
 * from the image goes through here (or an equivalent explicit check).
 */
export function checkedBound(value: number | bigint, maximum: number, what: string, where?: string): number {
  if (typeof value === "bigint") {
    if (value < 0n || value > BigInt(maximum)) throw corrupted(`${what} ${value} exceeds ${maximum}`, where);
    return Number(value);
  }
  if (!Number.isSafeInteger(value) || value < 0 || value > maximum) {
    throw corrupted(`${what} ${value} exceeds ${maximum}`, where);
  }
  return value;
}
