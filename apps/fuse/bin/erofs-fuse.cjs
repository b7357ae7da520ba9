#!/usr/bin/env node
// libuv's thread pool size is fixed when the pool first starts, and loading an ES module
// already starts it, so it is set here, in a CommonJS entry (loaded synchronously),
// before the real program is imported.
// - With the native poller (build/erofs-fuse-native.node), requests are read on the event loop
//   and the pool only does image reads: a few threads more than Node's 4.
// - Without it, the daemon keeps 8 blocking reads of /dev/fuse outstanding per mount on
//   the pool, and image reads need free threads beside them: 8 per command-line argument
//   bounds 8 per mount with room to spare.
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");
if (!process.env.UV_THREADPOOL_SIZE) {
  const polled = process.env.EROFS_FUSE_READER !== "pool" && existsSync(join(__dirname, "../build/erofs-fuse-native.node"));
  process.env.UV_THREADPOOL_SIZE = String(polled ? 8 : Math.min(1024, 16 + 8 * process.argv.length));
}
// Less inlining into optimized code. A fresh daemon's first reads run while V8 compiles
// the request path (about 0.6 s of CPU on a second thread, measured on a 2-core VM), and
// the read path's async functions inlined whole made each compile large. With a third of
// the default budget, a fresh daemon's first cold walk of app-a-lz4 was faster in 6 of 6
// interleaved rounds (median 76 -> 81 MB/s; its second walk 135 -> 145), and walks after
// that were unchanged. Read at each compile, so setting it here, before any, is enough.
require("node:v8").setFlagsFromString("--max-inlined-bytecode-size-cumulative=300");
// Before the import, which starts libuv's thread pool: only V8's threads exist yet.
require("./background-threads.cjs").lowerBackgroundThreads();
import("../dist/main.js");
