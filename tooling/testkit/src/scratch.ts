import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A test file's temporary directory, made on first use. Vitest runs no hook of a file
 * whose tests are all skipped (no corpus, not root, no mkfs.erofs, a `-t` filter), so a
 * directory made when the file loads would outlive the run; made here, it exists only
 * where a test ran, and with it the `afterAll(dir.remove)` that removes it.
 */
export class ScratchDir {
  #path: string | undefined;

  constructor(private readonly prefix: string) {}

  /** The directory's path; the first call makes it (under os.tmpdir(), named prefix + random). */
  get path(): string {
    return (this.#path ??= mkdtempSync(join(tmpdir(), this.prefix)));
  }

  /** Removes the directory and everything in it, if it was made; the next `path` makes a new one. */
  readonly remove = (): void => {
    if (this.#path) rmSync(this.#path, { recursive: true, force: true });
    this.#path = undefined;
  };
}
