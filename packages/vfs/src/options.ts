import { ErofsError } from "@erofs-ts/format";

/** Mount options in the kernel's names (`-o device=X,fsoffset=N`), parsed from text. */
export interface ParsedMountOptions {
  devices: string[];
  fsoffset: number;
  inodeShare: boolean;
  domainId: string | undefined;
  fingerprints: string | undefined;
  /** user_xattr (default) / nouser_xattr. */
  userXattr: boolean;
  /** acl (default) / noacl. */
  acl: boolean;
}

/**
 * Values the kernel takes for cache_strategy=. The option steers the kernel's own cache of
 * compressed clusters, which erofs-ts does not have: accepted (checked) so that options
 * copied from a kernel mount (/proc/mounts always shows one) work, and has no effect.
 */
const CACHE_STRATEGIES = new Set(["disabled", "readahead", "readaround"]);

/** Options that are on or off by their name alone (the kernel refuses a value for them). */
const FLAGS = new Set(["inode_share", "user_xattr", "nouser_xattr", "acl", "noacl"]);

/** Parses a comma-separated option string; unknown options are rejected, as mount(8) would. */
export function parseMountOptions(text: string): ParsedMountOptions {
  const out: ParsedMountOptions = { devices: [], fsoffset: 0, inodeShare: false, domainId: undefined, fingerprints: undefined, userXattr: true, acl: true };
  for (const item of text.split(",")) {
    if (item === "" || item === "ro") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    if (FLAGS.has(key) && value !== undefined) throw new ErofsError("EINVAL", `${key} takes no value`, key);
    switch (key) {
      case "device":
        if (!value) throw new ErofsError("EINVAL", "device= needs a path", "device");
        out.devices.push(value);
        break;
      case "fsoffset":
        out.fsoffset = parseByteCount(value, "fsoffset");
        break;
      case "inode_share":
        out.inodeShare = true;
        break;
      case "domain_id":
        if (!value) throw new ErofsError("EINVAL", "domain_id= needs a value", "domain_id");
        out.domainId = value;
        break;
      case "user_xattr":
      case "nouser_xattr":
        out.userXattr = key === "user_xattr";
        break;
      case "acl":
      case "noacl":
        out.acl = key === "acl";
        break;
      case "cache_strategy":
        if (!value || !CACHE_STRATEGIES.has(value)) {
          throw new ErofsError("EINVAL", `cache_strategy= takes ${[...CACHE_STRATEGIES].join(", ")}; got "${value ?? ""}"`, "cache_strategy");
        }
        break;
      case "fingerprints":
        if (!value) throw new ErofsError("EINVAL", "fingerprints= needs a path", "fingerprints");
        out.fingerprints = value;
        break;
      default:
        throw new ErofsError("EINVAL", `unknown mount option "${key}"`, key);
    }
  }
  return out;
}

/** A non-negative decimal (or 0x hex) byte count. */
export function parseByteCount(value: string | undefined, name: string): number {
  if (value === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(value)) {
    throw new ErofsError("EINVAL", `${name} needs a byte count, got "${value ?? ""}"`, name);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new ErofsError("EINVAL", `${name} ${value} is too large`, name);
  return n;
}
