#!/usr/bin/env node
import { parseArgs } from "node:util";
import { CORPUS_ABSENT, ensureCorpus } from "@erofs-ts/testkit";
import { isRoot } from "./measure.js";
import { decodeSuite } from "./suites/decode.js";
import { fuseSuite, memoryTable, placementSuite, requestsSuite } from "./suites/fuse.js";
import { ishareSuite } from "./suites/ishare.js";
import { readSuite } from "./suites/read.js";
import { Runner } from "./runner-client.js";

const SUITES = ["read", "decode", "ishare", "fuse", "fuse-memory", "fuse-requests", "fuse-placement"] as const;
type Suite = (typeof SUITES)[number];

const USAGE = `usage: pnpm bench [${SUITES.join("|")}]... [--parallel N]
  read    every file of real/app-a-plain (vfs vs kernel mount, cold) and stat of wide-plain
  decode  every file of each real/app-a-* variant (vfs vs kernel, cold) and vs fsck.erofs 1.5
  ishare  app-a then app-b through one cache, with and without inode_share
  fuse    app-a-* through erofs-fuse vs the kernel (cold), ls -lR of wide-plain, what one
          request costs (statfs), app-a-lz4 with the reader and the daemon pinned to
          chosen vCPUs, and the memory of app-a + app-b through two mounts with and
          without inode_share; upstream's erofsfuse too where EROFSFUSE= names it
  fuse-memory  only that memory table
  fuse-requests  only the ls -lR and statfs rows
  fuse-placement  only the walks with the reader and the daemon pinned to chosen vCPUs
  --parallel N  read N files at a time through the vfs (default 1)
With no suite named, all run. Peers need root (kernel mounts, dropping the page cache).
In read and decode the vfs reads its image as erofs-cli does: on the calling thread.`;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { parallel: { type: "string", default: "1" }, help: { type: "boolean", short: "h" } } });
  } catch (e) {
    console.error(`erofs-bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const parallel = Number(parsed.values.parallel);
  const unknown = parsed.positionals.filter((p) => !(SUITES as readonly string[]).includes(p));
  if (unknown.length || !Number.isInteger(parallel) || parallel < 1) {
    console.error(`erofs-bench: ${unknown.length ? `unknown suite ${unknown.join(", ")}` : "bad --parallel"}\n${USAGE}`);
    return 2;
  }
  const corpus = ensureCorpus();
  if (!corpus) {
    console.error(CORPUS_ABSENT);
    return 1;
  }
  if (!isRoot()) console.log("not root: no kernel peer, and the page cache cannot be dropped (warm numbers)");
  // The parts of fuse run alone only when named.
  const chosen = (parsed.positionals.length ? parsed.positionals : SUITES.filter((s) => !s.startsWith("fuse-"))) as Suite[];
  console.log(`erofs-ts bench · node ${process.version} · ${new Date().toISOString()}`);
  // Started before any workload, while this process is small (see runner.ts).
  const runner = new Runner();
  try {
    for (const suite of chosen) {
      if (suite === "read") await readSuite(runner, corpus);
      else if (suite === "decode") await decodeSuite(runner, corpus, parallel);
      else if (suite === "ishare") await ishareSuite(runner, corpus, parallel);
      else if (suite === "fuse") await fuseSuite(runner, corpus);
      else if (suite === "fuse-requests") await requestsSuite(runner, corpus);
      else if (suite === "fuse-placement") await placementSuite(runner, corpus);
      else memoryTable(corpus);
    }
  } finally {
    runner.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`erofs-bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
