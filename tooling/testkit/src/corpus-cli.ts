#!/usr/bin/env node
import { corpusArchivePath, ensureCorpus } from "./corpus.js";

// `pnpm corpus`: unpack the reference corpus into .cache/corpus and print where it is.
const dir = ensureCorpus();
if (!dir) {
  console.error(`erofs-corpus: no archive at ${corpusArchivePath()}`);
  process.exit(1);
}
console.log(dir);
