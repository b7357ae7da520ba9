#!/usr/bin/env node
/**
 * `node dist/vfs-walk-cli.js IMAGE OUT.json [DEVICE]`: the vfs side of one seed, in a
 * process of its own (sweep.ts runs it with a time limit, so a hang costs one seed).
 */
import { writeFileSync } from "node:fs";
import { walkVfs } from "./vfs-walk.js";

const [image, out, device] = process.argv.slice(2);
if (!image || !out) {
  console.error("usage: vfs-walk-cli IMAGE OUT.json [DEVICE]");
  process.exit(2);
}
writeFileSync(out, JSON.stringify(await walkVfs(image, device ?? null)));
