import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The monorepo root: the nearest ancestor holding pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("erofs-ts testkit: cannot find the repository root");
    dir = up;
  }
}

/** Where the corpus archive is expected: $EROFS_CORPUS_ARCHIVE, else ../shared/corpus.tar.xz beside the repo. */
export function corpusArchivePath(): string {
  return process.env.EROFS_CORPUS_ARCHIVE ?? resolve(repoRoot(), "..", "shared", "corpus.tar.xz");
}

/** The one line tests print when the archive is absent. */
export const CORPUS_ABSENT =
  "corpus tests skipped: ../shared/corpus.tar.xz not found (set EROFS_CORPUS_ARCHIVE to its path)";

/**
 * The unpacked corpus directory (…/corpus), unpacking the archive into the gitignored
 * .cache/ on first use (or when the archive changed). Null when there is no archive.
 */
export function ensureCorpus(): string | null {
  const archive = corpusArchivePath();
  if (!existsSync(archive)) return null;
  const cache = join(repoRoot(), ".cache");
  const dir = join(cache, "corpus");
  const stampPath = join(cache, "corpus.stamp");
  const st = statSync(archive);
  const stamp = `${archive}\n${st.size}\n${st.mtimeMs}\n`;
  if (existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp && existsSync(dir)) return dir;
  mkdirSync(cache, { recursive: true });
  // Unpack beside, then rename, so concurrent test workers never see a half-written tree.
  const tmp = join(cache, `corpus.unpack.${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  execFileSync("tar", ["-xJf", archive, "-C", tmp], { stdio: "inherit" });
  if (!(existsSync(join(dir)) && existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp)) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, "corpus"), dir);
    writeFileSync(stampPath, stamp);
  }
  rmSync(tmp, { recursive: true, force: true });
  return dir;
}

/** A corpus image with the manifest that describes it. */
export interface CorpusImage {
  /** "plain", "real/app-a-lz4", ... */
  readonly name: string;
  readonly image: string;
  readonly manifest: string;
  /** False for the app-a-* variants that borrow app-a's manifest: its ino values and statfs block count are not theirs. */
  readonly ownManifest: boolean;
}

/** Every image of the corpus, each paired with its manifest. */
export function corpusImages(dir: string): CorpusImage[] {
  const out: CorpusImage[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".manifest.json")) continue;
    const name = f.slice(0, -".manifest.json".length);
    out.push({ name, image: join(dir, `${name}.erofs`), manifest: join(dir, f), ownManifest: true });
  }
  const real = join(dir, "real");
  if (existsSync(real)) {
    for (const f of readdirSync(real).sort()) {
      if (!f.endsWith(".erofs")) continue;
      const name = f.slice(0, -".erofs".length);
      const own = join(real, `${name}.manifest.json`);
      const shared = join(real, `${name.replace(/-(plain|lz4|lzma|zstd|deflate)$/, "")}.manifest.json`);
      const manifest = existsSync(own) ? own : shared;
      out.push({ name: `real/${name}`, image: join(real, f), manifest, ownManifest: manifest === own });
    }
  }
  return out;
}

/**
 * The in-repo fixtures that carry a kernel manifest (fixtures/*.manifest.json): copies of
 * a few corpus images, so the suites mean something without the corpus, and images made
 * for cases the corpus lacks, which every suite runs.
 */
export function fixtureImages(): CorpusImage[] {
  const dir = join(repoRoot(), "fixtures");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".manifest.json"))
    .sort()
    .map((f) => {
      const name = f.slice(0, -".manifest.json".length);
      return { name: `fixtures/${name}`, image: join(dir, `${name}.erofs`), manifest: join(dir, f), ownManifest: true };
    });
}
