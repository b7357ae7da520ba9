#!/usr/bin/env node
// The daemon keeps several blocking reads of /dev/fuse outstanding on libuv's thread pool
// (8 per mount), and image reads need free threads beside them. The pool's size is fixed
// when it first starts, and loading an ES module already starts it, so it is set here,
// in a CommonJS entry (loaded synchronously), before the real program is imported.
// 8 threads per command-line argument bounds 8 per mount with room to spare.
"use strict";
if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, 16 + 8 * process.argv.length));
}
import("../dist/main.js");
