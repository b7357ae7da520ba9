import { readFileSync, writeFileSync } from "node:fs";
import { buildFieldMap } from "./field-map.js";
import { mutate } from "./mutate.js";
import { planSeed } from "./plan.js";
import type { FuzzTarget } from "./targets.js";

/** Rebuilds a seed's mutant (exactly as a worker does) and writes it, with mutated devices as FILE.devN. */
export async function writeMutant(
  targets: readonly FuzzTarget[],
  seed: number,
  to: string,
): Promise<{ devices: string[]; fsoffset: number; log: readonly string[] }> {
  const { rng, target } = planSeed(seed, targets.length);
  const t = targets[target]!;
  const image = readFileSync(t.path);
  const map = await buildFieldMap(image, t.devices, t.fsoffset);
  const m = mutate(rng, { image, devices: t.devices, fsoffset: t.fsoffset, map, loadDevice: (p) => readFileSync(p) });
  writeFileSync(to, m.bytes);
  const devices = m.devices.map((d, i) => {
    if (typeof d === "string") return d;
    writeFileSync(`${to}.dev${i}`, d);
    return `${to}.dev${i}`;
  });
  return { devices, fsoffset: m.fsoffset, log: m.log };
}
