import { ErofsError } from "@erofs-ts/format";

/** Mount options in the kernel's names (`-o device=X,fsoffset=N`), parsed from text. */
export interface ParsedMountOptions {
  devices: string[];
  fsoffset: number;
  inodeShare: boolean;
  domainId: string | undefined;
  fingerprints: string | undefined;
}

/** Parses a comma-separated option string; unknown options are rejected, as mount(8) would. */
export function parseMountOptions(text: string): ParsedMountOptions {
  const out: ParsedMountOptions = { devices: [], fsoffset: 0, inodeShare: false, domainId: undefined, fingerprints: undefined };
  for (const item of text.split(",")) {
    if (item === "" || item === "ro") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
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
