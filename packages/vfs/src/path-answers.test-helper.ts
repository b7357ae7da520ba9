import { lstatSync, statSync } from "node:fs";
import { ErofsError, type ErofsFs } from "./index.js";

/**
 * What a path lookup answers, in one comparable form for the kernel and the vfs: the
 * inode number it reaches, or the error code. Shared by the tests that hold the vfs's
 * lookups to a kernel mount's.
 */
export function kernelPathAnswer(root: string, path: string, follow: boolean): string {
  try {
    const st = (follow ? statSync : lstatSync)(`${root}/${path}`, { bigint: true });
    return `ino ${st.ino}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** kernelPathAnswer's counterpart: the vfs's lookup of `path` from the root. */
export async function vfsPathAnswer(fs: ErofsFs, path: string, follow: boolean): Promise<string> {
  try {
    return `ino ${fs.stat(await fs.lookup(path, { follow })).ino}`;
  } catch (e) {
    return ErofsError.isInstance(e) ? e.code : String(e);
  }
}
