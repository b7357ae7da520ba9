// Compiles native/erofs-fuse-native.c into build/erofs-fuse-native.node with the system C compiler and
// the running Node's headers. It is an N-API module, so it needs no linking against
// Node and stays valid across Node versions. If no compiler or headers are found, the
// daemon falls back to its thread-pool reader: this prints why and succeeds anyway,
// unless EROFS_FUSE_NATIVE=required (CI sets it, so a broken build cannot pass silently).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native/erofs-fuse-native.c");
const output = join(root, "build/erofs-fuse-native.node");

function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, "include/node"),
    resolve(dirname(process.execPath), "../include/node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, "node_api.h")) && existsSync(join(dir, "uv.h"))) ?? null;
}

function fail(reason) {
  const line = `erofs-fuse: native poller not built (${reason}); the daemon will use its slower thread-pool reader`;
  if (process.env.EROFS_FUSE_NATIVE === "required") {
    console.error(line);
    process.exit(1);
  }
  console.warn(line);
  process.exit(0);
}

if (process.platform !== "linux") fail("FUSE needs Linux");
const headers = nodeHeaders();
if (!headers) fail("Node's headers (node_api.h, uv.h) were not found; set npm_config_nodedir");
mkdirSync(dirname(output), { recursive: true });
const cc = process.env.CC || "cc";
try {
  execFileSync(cc, ["-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-DNODE_GYP_MODULE_NAME=erofs_fuse_native", `-I${headers}`, "-o", output, source], { stdio: ["ignore", "inherit", "inherit"] });
} catch (e) {
  fail(`${cc} failed: ${e.message.split("\n")[0]}`);
}
