import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { corpusImages, loadManifest, mountOptionsFor, repoRoot } from "@erofs-ts/testkit";

/** One image the fuzzer mutates, with what mounting it needs. */
export interface FuzzTarget {
  /** "fixtures/demo", "corpus/lz4", "corpus/real/app-a-lz4": stable, printed with each failure. */
  readonly name: string;
  readonly path: string;
  /** Extra devices (paths), never mutated except by the device mutations. */
  readonly devices: readonly string[];
  readonly fsoffset: number;
}

export type TargetSet = "fixtures" | "corpus" | "real";

/**
 * The images for a run, in a fixed order (a seed picks by index, so the order is part of
 * what makes a seed reproducible): the in-repo fixtures, the corpus's own images when the
 * corpus is unpacked, and the large real/ images only when asked for.
 */
export function listTargets(sets: readonly TargetSet[], corpusDir: string | null): FuzzTarget[] {
  const out: FuzzTarget[] = [];
  const root = repoRoot();
  if (sets.includes("fixtures")) {
    const dir = join(root, "fixtures");
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith(".erofs")) out.push({ name: `fixtures/${f.slice(0, -6)}`, path: join(dir, f), devices: [], fsoffset: 0 });
    }
    const hostile = join(dir, "hostile", "hostile-base.erofs");
    if (existsSync(hostile)) out.push({ name: "fixtures/hostile-base", path: hostile, devices: [], fsoffset: 0 });
  }
  if (corpusDir && (sets.includes("corpus") || sets.includes("real"))) {
    for (const img of corpusImages(corpusDir)) {
      const real = img.name.startsWith("real/");
      if (real ? !sets.includes("real") : !sets.includes("corpus")) continue;
      const { devices, fsoffset } = mountOptionsFor(loadManifest(img.manifest), img.image);
      out.push({ name: `corpus/${img.name}`, path: img.image, devices, fsoffset });
    }
  }
  return out;
}
