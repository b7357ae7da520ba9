#!/usr/bin/env node
import { execFileSync } from "node:child_process";
import { statfsSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { entryFromObserved } from "./compare.js";
import { observeHostTree } from "./host-tree.js";
import { KernelMount } from "./kernel.js";
import { nameBytes, type ManifestName } from "./manifest.js";

/**
 * `erofs-manifest IMAGE --mkfs-flags="..." [--tree NAME]`: what the running kernel reads
 * from IMAGE, written beside it as IMAGE's .manifest.json in the corpus's own layout, so
 * that an image made for a case the corpus lacks can join the in-repo fixtures with the
 * kernel as its oracle. Needs root (it mounts the image).
 */
const USAGE = "usage: erofs-manifest IMAGE --mkfs-flags=FLAGS [--tree NAME]";

function main(): number {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { "mkfs-flags": { type: "string" }, tree: { type: "string" } } });
  } catch (e) {
    console.error(`erofs-manifest: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [image] = parsed.positionals;
  const flags = parsed.values["mkfs-flags"];
  if (!image || parsed.positionals.length > 1 || flags === undefined || !image.endsWith(".erofs")) {
    console.error(USAGE);
    return 2;
  }
  const k = KernelMount.tryMount(image);
  if (!k) {
    console.error(`erofs-manifest: the kernel did not mount ${image} (root is needed)`);
    return 1;
  }
  try {
    const entries = [...observeHostTree(k.dir, { dirSize: true })].map(([key, o]) => {
      const e = entryFromObserved(Buffer.from(key, "base64"), o);
      // The corpus writes names as text where they are UTF-8, else as base64 bytes.
      return {
        ...e,
        path: asName(e.path),
        ...(e.target ? { target: asName(e.target) } : {}),
        ...(e.children ? { children: e.children.map(asName) } : {}),
      };
    });
    const st = statfsSync(k.dir, { bigint: true });
    const namemax = Number(execFileSync("stat", ["-f", "-c", "%l", k.dir], { encoding: "utf8" }).trim());
    const name = basename(image, ".erofs");
    const manifest = {
      entries,
      statfs: { bsize: Number(st.bsize), blocks: Number(st.blocks), files: Number(BigInt.asIntN(64, st.files)), namemax },
      name,
      tree: parsed.values.tree ?? name,
      mkfs_flags: flags,
      mount_options: "",
      oracle: "kernel",
    };
    // mtime_ns and ino are 64-bit: written as bare integers, as the corpus does.
    const text = JSON.stringify(manifest, (_, v: unknown) => (typeof v === "bigint" ? `#int:${v}` : v), 1).replace(/"#int:(-?\d+)"/g, "$1");
    const out = image.replace(/\.erofs$/, ".manifest.json");
    writeFileSync(out, text + "\n");
    console.log(`${out}: ${entries.length} entries`);
    return 0;
  } finally {
    k.unmount();
  }
}

function asName(n: ManifestName): ManifestName {
  if (typeof n === "string") return n;
  const bytes = nameBytes(n);
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes) ? text : n;
}

process.exitCode = main();
