const TYPE_CHAR: Record<string, string> = {
  file: "-",
  dir: "d",
  symlink: "l",
  chardev: "c",
  blockdev: "b",
  fifo: "p",
  socket: "s",
};

/** ls -l style mode string, e.g. drwxr-xr-x, -rwsr-xr-x, drwxrwxrwt. */
export function modeString(type: string, mode: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) => {
    const x = bits & 1;
    const last = special ? (x ? specialChar : specialChar.toUpperCase()) : x ? "x" : "-";
    return (bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") + last;
  };
  return (
    (TYPE_CHAR[type] ?? "?") +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, "s") +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, "s") +
    rwx(mode & 7, (mode & 0o1000) !== 0, "t")
  );
}

/** Seconds either side of 1970 that a Date can show (±10^8 days). */
const DATE_LIMIT_SEC = 8_640_000_000_000n;

/**
 * An mtime in nanoseconds as ISO-8601 with all nine fractional digits (UTC). An image's
 * i_mtime may be any 64-bit number of seconds; beyond what a date can show it is printed
 * as seconds since the epoch, as coreutils' stat prints such a time from a kernel mount.
 */
export function isoTime(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = (ns - sec * 1_000_000_000n).toString().padStart(9, "0");
  if (sec > DATE_LIMIT_SEC || sec < -DATE_LIMIT_SEC) return `${sec}.${frac}`;
  const base = new Date(Number(sec) * 1000).toISOString().replace(/\.000Z$/, "");
  return `${base}.${frac}Z`;
}
