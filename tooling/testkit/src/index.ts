export { CORPUS_ABSENT, corpusArchivePath, corpusImages, ensureCorpus, fixtureImages, repoRoot, type CorpusImage } from "./corpus.js";
export {
  isCompressedImage,
  loadManifest,
  mountOptionsFor,
  nameBytes,
  type Manifest,
  type ManifestEntry,
  type ManifestName,
} from "./manifest.js";
export { compareEntry, entryFromObserved, sha256Hex, type CompareOptions, type Observed } from "./compare.js";
export { KernelMount, kernelDirListing, kernelMountErrno } from "./kernel.js";
export { fileTypeOfMode, hostXattrs, observeHostTree } from "./host-tree.js";
export { ACL_UNDEFINED_ID, posixAclXattr, type PosixAclEntry } from "./posix-acl.js";
export { processAlive } from "./process.js";
export { hasCommand } from "./commands.js";
export { AS_NOBODY, nobodyReaches } from "./another-user.js";
export { dumpExtents, type DumpedExtent } from "./dump-extents.js";
export { canCorruptInodes, corruptInodes, renameEntry, renumberEntry, repointEntry, resizeInode } from "./corrupt-inodes.js";
export { imageBlockSize, resealSuperblock } from "./reseal.js";
export { WIDE_ENTRIES, canMakeWideImage, corruptWideBlock, corruptWideDirent, makeWideImage, scrambleWideNames, wideEntryName } from "./wide-directory.js";
export { seededRandom } from "./random.js";
export { ScratchDir } from "./scratch.js";
export { FIEMAP_PYTHON, asFiemap, fiemapAnswer, kernelFiemap, kernelFiemapOf, unifiedDeviceStart, type FiemapAnswer, type ReportedExtent } from "./fiemap.js";
