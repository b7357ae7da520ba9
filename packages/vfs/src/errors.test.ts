import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { ErofsError, mount, parseMountOptions } from "./index.js";

const dir = new ScratchDir("vfs-errors-");
afterAll(dir.remove);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return ErofsError.isInstance(e) ? e.code : `untyped: ${String(e)}`;
  }
  return "no error";
}

describe("mount refuses bad sources with typed errors", () => {
  it("a file that is not EROFS", async () => {
    const f = join(dir.path, "zeros");
    writeFileSync(f, new Uint8Array(8192));
    expect(await codeOf(mount(f))).toBe("EINVAL");
  });

  it("a tiny file", async () => {
    const f = join(dir.path, "tiny");
    writeFileSync(f, "hello");
    expect(await codeOf(mount(f))).toBe("EINVAL");
  });

  it("a missing file", async () => {
    expect(await codeOf(mount(join(dir.path, "nope.erofs")))).toBe("ENOENT");
  });

  it("an fsoffset off the image's block boundaries, which the kernel refuses too", async () => {
    const demo = readFileSync(join(repoRoot(), "fixtures/demo.erofs"));
    for (const offset of [512, 4096, 6144]) {
      const f = join(dir.path, `at-${offset}.img`);
      writeFileSync(f, Buffer.concat([Buffer.alloc(offset), demo]));
      const ours = await codeOf(mount(f, { fsoffset: offset }).then((fs) => fs.unmount()));
      expect(ours, `fsoffset ${offset}`).toBe(offset % 4096 ? "EINVAL" : "no error");
      const k = KernelMount.tryMount(f, { fsoffset: offset });
      if (process.getuid?.() === 0) expect(k !== null, `kernel, fsoffset ${offset}`).toBe(ours === "no error");
      k?.unmount();
    }
  });

  it("an fsoffset beyond the file", async () => {
    const f = join(dir.path, "zeros2");
    writeFileSync(f, new Uint8Array(4096));
    expect(await codeOf(mount(f, { fsoffset: 1 << 20 }))).toBe("EINVAL");
  });
});

describe("a filesystem used after its unmount", () => {
  it("rejects iget, read and readdir with EIO: a rejected promise, never a throw", async () => {
    const fs = await mount(join(repoRoot(), "fixtures/demo.erofs"));
    const root = await fs.root();
    const file = await fs.lookup("hello.txt");
    await fs.unmount();
    const calls: Array<() => Promise<unknown>> = [() => fs.iget(root.nid), () => fs.read(file, 0, 1), () => fs.readdir(root), () => fs.read(root, 0, 1)];
    for (const call of calls) {
      let p: Promise<unknown> | undefined;
      expect(() => (p = call())).not.toThrow();
      expect(await codeOf(p!)).toBe("EIO");
    }
  });

  it("still answers a bad read range with its own error while mounted", async () => {
    const fs = await mount(join(repoRoot(), "fixtures/demo.erofs"));
    try {
      const file = await fs.lookup("hello.txt");
      let p: Promise<unknown> | undefined;
      expect(() => (p = fs.read(file, -1, 1))).not.toThrow();
      expect(await codeOf(p!)).toBe("EINVAL");
      expect(await codeOf(fs.read(await fs.root(), 0, 1))).toBe("EISDIR");
    } finally {
      await fs.unmount();
    }
  });
});

describe("getxattr answers as the kernel's VFS does", () => {
  it("ENODATA for an absent name, EINVAL for a bare namespace prefix, EOPNOTSUPP for an unknown namespace", async () => {
    const fs = await mount(join(repoRoot(), "fixtures", "xattrs.erofs"));
    try {
      const root = await fs.root();
      const code = (name: string) => codeOf(fs.getxattr(root, new TextEncoder().encode(name)));
      expect(await code("user.root_attr")).toBe("no error");
      for (const absent of ["user.absent", "trusted.absent", "security.absent", "system.posix_acl_default"]) expect(await code(absent)).toBe("ENODATA");
      for (const bare of ["user.", "trusted.", "security."]) expect(await code(bare)).toBe("EINVAL");
      for (const unknown of ["foo.bar", "system.other", "user"]) expect(await code(unknown)).toBe("EOPNOTSUPP");
    } finally {
      await fs.unmount();
    }
  });
});

describe("parseMountOptions", () => {
  it("parses kernel option names", () => {
    expect(parseMountOptions("ro,device=a,device=b,fsoffset=4096,inode_share,domain_id=x")).toMatchObject({
      devices: ["a", "b"],
      fsoffset: 4096,
      inodeShare: true,
      domainId: "x",
      userXattr: true,
      acl: true,
    });
  });
  it("the kernel's xattr namespace switches and cache_strategy, the last one given winning", () => {
    expect(parseMountOptions("nouser_xattr,noacl,cache_strategy=readaround")).toMatchObject({ userXattr: false, acl: false });
    expect(parseMountOptions("noacl,acl,nouser_xattr,user_xattr,cache_strategy=disabled")).toMatchObject({ userXattr: true, acl: true });
  });
  it.each(["bogus", "fsoffset=abc", "fsoffset=", "device=", "fsoffset=99999999999999999999", "noacl=1", "inode_share=yes", "cache_strategy", "cache_strategy=always"])("rejects %s", (o) => {
    expect(() => parseMountOptions(o)).toThrow(ErofsError);
  });
});

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

describe.skipIf(!corpus)("path and file errors on a real image", () => {
  const image = () => join(corpus!, "plain.erofs");

  it("ENOENT, ENOTDIR, EISDIR, EINVAL", async () => {
    const fs = await mount(image());
    expect(await codeOf(fs.lookup("no/such/file"))).toBe("ENOENT");
    expect(await codeOf(fs.lookup("log.txt/x"))).toBe("ENOTDIR");
    const root = await fs.root();
    expect(await codeOf(fs.read(root, 0, 10))).toBe("EISDIR");
    expect(await codeOf(fs.readlink(root))).toBe("EINVAL");
    expect(await codeOf(fs.readdir(await fs.lookup("log.txt")))).toBe("ENOTDIR");
    expect(await codeOf(fs.read(await fs.lookup("log.txt"), -1, 10))).toBe("EINVAL");
    await fs.unmount();
    expect(await codeOf(fs.lookup("log.txt"))).toBe("EIO");
  });

  it("follows symlinks only where asked and stops loops", async () => {
    const fs = await mount(image());
    expect(fs.stat(await fs.lookup("links/rel")).type).toBe("symlink");
    expect(fs.stat(await fs.lookup("links/rel", { follow: true })).type).toBe("file");
    // self_dir -> "." : following it repeatedly stays in links/
    expect(fs.stat(await fs.lookup("links/self_dir/self_dir/rel", { follow: true })).type).toBe("file");
    // dangling -> "dangling/nowhere" resolves through itself again and again.
    expect(await codeOf(fs.lookup("links/dangling", { follow: true }))).toBe("ELOOP");
    // An absolute target resolves inside the image, never on the host.
    expect(await codeOf(fs.lookup("links/abs", { follow: true }))).toBe("ENOENT");
    await fs.unmount();
  });

  it("an image's extra devices given wrong: a missing file, or not as many as its table holds", async () => {
    expect(await codeOf(mount(join(corpus!, "blobdev.erofs"), { devices: [join(dir.path, "missing.blob")] }))).toBe("ENOENT");
    const blob = join(corpus!, "blobdev.blob");
    expect(await codeOf(mount(join(corpus!, "blobdev.erofs"), { devices: [blob, blob] }))).toBe("EINVAL");
  });

  it("readdir offers . and .. on request", async () => {
    const fs = await mount(image());
    const d0 = await fs.lookup("d0");
    const names = (await fs.readdir(d0, { dots: true })).map((e) => new TextDecoder().decode(e.name));
    expect(names.slice(0, 2).sort()).toEqual([".", ".."]);
    const root = await fs.root();
    const dotdot = (await fs.readdir(d0, { dots: true })).find((e) => new TextDecoder().decode(e.name) === "..");
    expect(dotdot?.nid).toBe(root.nid);
    await fs.unmount();
  });
});
