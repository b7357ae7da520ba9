import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { fixtureImages, repoRoot } from "./corpus.js";
import { KernelMount, kernelDirListing } from "./kernel.js";
import { loadManifest } from "./manifest.js";
import { ScratchDir } from "./scratch.js";
import { hasCommand } from "./commands.js";

/**
 * The TypeScript examples of the published packages' READMEs, as a user pastes them:
 * type-checked (strict, NodeNext) against the built package, whose name resolves as it
 * does for that user, then run by Node, and their output held to what the README says
 * it prints or to independent data (a manifest, the source tree, a kernel mount). The
 * only edits are the names of the user's own files (`image.erofs`, `disk.img`, ...), each
 * replaced by a real file.
 */

const work = new ScratchDir("erofs-readme-examples-");
afterAll(work.remove);

/** The ```ts blocks of a README, in order. */
function examples(readme: string): string[] {
  return [...readFileSync(readme, "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** `code` with each placeholder file name (which must occur in it) replaced by a real file's path. */
function withFiles(code: string, files: Record<string, string>): string {
  for (const [placeholder, path] of Object.entries(files)) {
    expect(code, `the example names ${placeholder}`).toContain(placeholder);
    code = code.replaceAll(placeholder, path);
  }
  return code;
}

/** The type errors of example modules, checked as a user's NodeNext project checks them. */
function typeErrors(files: string[]): string[] {
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : "";
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

/**
 * Type-checks and runs a package's README examples, each as a module inside the package
 * (so that its import of the package by name is the package's own export map), and
 * returns each one's standard output. Fails on a type error, a throw or a non-zero exit.
 */
function runExamples(pkg: string, codes: string[]): string[] {
  const dir = join(repoRoot(), "packages", pkg, ".readme-examples");
  mkdirSync(dir, { recursive: true });
  try {
    const sources = codes.map((code, i) => {
      const file = join(dir, `example-${i + 1}.mts`);
      writeFileSync(file, code);
      return file;
    });
    expect(typeErrors(sources)).toEqual([]);
    return codes.map((code, i) => {
      const file = join(dir, `example-${i + 1}.mjs`);
      writeFileSync(file, ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
      const r = spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 60_000 });
      expect(r.stderr, `${pkg} README example ${i + 1}`).toBe("");
      expect(r.status, `${pkg} README example ${i + 1}`).toBe(0);
      return r.stdout;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const readme = (pkg: string) => join(repoRoot(), "packages", pkg, "README.md");
const demo = join(repoRoot(), "fixtures/demo.erofs");
const hasMkfs = hasCommand("mkfs.erofs");

describe("README examples type-check, run and print what they say", () => {
  it("blockdev: reads the superblock of an image 64 KiB into a disk", () => {
    const [code] = examples(readme("blockdev"));
    const disk = join(work.path, "disk.img");
    writeFileSync(disk, Buffer.concat([Buffer.alloc(65536), readFileSync(demo)]));
    expect(runExamples("blockdev", [withFiles(code!, { "disk.img": disk })])).toEqual([""]);
  });

  it("decompress: the LZ4 block decodes to the text its comment gives", () => {
    const codes = examples(readme("decompress"));
    expect(codes).toHaveLength(1);
    // The README's own claim: console.log(...); // "text"
    const claimed = /console\.log\(.*\); \/\/ "(.*)"$/m.exec(codes[0]!)?.[1];
    expect(claimed).toBeTruthy();
    expect(runExamples("decompress", codes)).toEqual([`${claimed}\n`]);
  });

  it("format: the block size, the root's kind and size, as the kernel read them (the manifest)", () => {
    const codes = examples(readme("format"));
    expect(codes).toHaveLength(1);
    const image = fixtureImages().find((f) => f.name === "fixtures/xattrs")!;
    const manifest = loadManifest(image.manifest);
    const root = manifest.entries.find((e) => e.path === "")!;
    expect(runExamples("format", [withFiles(codes[0]!, { "image.erofs": image.image })])).toEqual([`${manifest.statfs.bsize} ${root.type} ${root.size}\n`]);
  });

  it("ishare-cache: a page put is got back; two images' copies are one shared inode", () => {
    const codes = examples(readme("ishare-cache"));
    expect(codes).toHaveLength(2);
    const [one, two] = runExamples("ishare-cache", codes);
    // The page's length, then the stats of a cache holding that one page, found once.
    expect(one).toMatch(/^4096 \{\n  pages: 1,\n/);
    expect(one).toMatch(/\n  bytes: 4096,\n[\s\S]*\n  hits: 1,\n/);
    // The same inode for both keys, B finds the page A put, and that page's bytes are counted as served shared.
    expect(two).toBe("true true 4096\n");
  });

  it("xattr: lists the inline attribute its comment gives", () => {
    const codes = examples(readme("xattr"));
    expect(codes).toHaveLength(1);
    const claimed = /^\} \/\/ (.*)$/m.exec(codes[0]!)?.[1];
    expect(claimed).toBeTruthy();
    expect(runExamples("xattr", codes)).toEqual([`${claimed}\n`]);
  });

  it.skipIf(!hasMkfs)("vfs: lists usr/lib and prints etc/passwd of an image with an extra device, as the source tree and the kernel have them", () => {
    const codes = examples(readme("vfs"));
    expect(codes).toHaveLength(1);
    const tree = join(work.path, "tree");
    mkdirSync(join(tree, "usr/lib/modules"), { recursive: true });
    mkdirSync(join(tree, "etc"));
    writeFileSync(join(tree, "usr/lib/os-release"), "ID=example\n");
    // More than one chunk, so that the file's data lies on the extra device.
    writeFileSync(join(tree, "usr/lib/libexample.so.1"), Buffer.alloc(3 * 4096 + 100, "erofs "));
    const passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    writeFileSync(join(tree, "etc/passwd"), passwd);
    const [image, blob] = [join(work.path, "image.erofs"), join(work.path, "blob.img")];
    const made = spawnSync("mkfs.erofs", [`--blobdev=${blob}`, "--chunksize=4096", image, tree], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    expect(lstatSync(blob).size).toBeGreaterThan(0);

    const [out] = runExamples("vfs", [withFiles(codes[0]!, { "image.erofs": image, "blob.img": blob })]);
    const lines = out!.split("\n");
    const listed = lines.slice(0, 3).map((l) => l.split(" "));
    // Names in the order erofs stores them (bytewise), as the source tree has them.
    // e.ino is a bigint, which console.log prints with its "n".
    expect(listed.map(([name]) => name)).toEqual(["libexample.so.1", "modules", "os-release"]);
    expect(lines.slice(3).join("\n")).toBe(passwd);
    const kernel = KernelMount.tryMount(image, { devices: [blob] });
    if (!kernel) return; // not root: names and content are checked, inode numbers are not
    try {
      const lib = join(kernel.dir, "usr/lib");
      expect(listed).toEqual(kernelDirListing(lib).names.map((name) => [name, `${lstatSync(join(lib, name)).ino}n`]));
      expect(readFileSync(join(kernel.dir, "etc/passwd"), "utf8")).toBe(passwd);
    } finally {
      kernel.unmount();
    }
  });

  it("no published package has an example these tests do not run", () => {
    const checked: Record<string, number> = { blockdev: 1, decompress: 1, format: 1, "ishare-cache": 2, vfs: 1, xattr: 1 };
    const packages = readdirSync(join(repoRoot(), "packages")).sort();
    expect(Object.fromEntries(packages.map((p) => [p, examples(readme(p)).length]))).toEqual(checked);
  });
});
