import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KernelMount, fixtureImages, hostXattrs, loadManifest, nameBytes, repoRoot, type ManifestEntry } from "@erofs-ts/testkit";
import { ErofsError, PageCache, mount, type ErofsFs } from "./index.js";

/**
 * The kernel's user_xattr/nouser_xattr and acl/noacl: a namespace turned off is not
 * listed, and getxattr of any name in it fails EOPNOTSUPP. Checked against each xattr
 * fixture's manifest (the kernel's listing with both on) less the namespace, and against
 * the kernel mounting the image with the same options.
 */
const images = fixtureImages().filter((f) => loadManifest(f.manifest).entries.some((e) => Object.keys(e.xattrs ?? {}).length));

const ACL_NAMES = new Set(["system.posix_acl_access", "system.posix_acl_default"]);
const SETTINGS = [
  { text: "nouser_xattr", userXattr: false, acl: true },
  { text: "noacl", userXattr: true, acl: false },
  { text: "nouser_xattr,noacl", userXattr: false, acl: false },
];

function servedNames(names: Iterable<string>, s: { userXattr: boolean; acl: boolean }): string[] {
  return [...names].filter((n) => (s.userXattr || !n.startsWith("user.")) && (s.acl || !ACL_NAMES.has(n))).sort();
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ErofsError.isInstance(e) ? e.code : String(e);
  }
}

async function listed(fs: ErofsFs, entry: ManifestEntry): Promise<Map<string, string>> {
  const inode = await fs.lookup(nameBytes(entry.path));
  const out = new Map<string, string>();
  // As getfattr -d: a listed name getxattr refuses (user.* of a symlink) is left out.
  for (const name of await fs.listxattr(inode)) {
    const value = await fs.findxattr(inode, name);
    if (value) out.set(new TextDecoder().decode(name), Buffer.from(value).toString("base64"));
  }
  return out;
}

describe("mount options that turn xattr namespaces off", () => {
  it("there are fixtures with user.* and POSIX ACLs to turn off", () => {
    const names = images.flatMap((f) => loadManifest(f.manifest).entries.flatMap((e) => Object.keys(e.xattrs ?? {})));
    expect(names.some((n) => n.startsWith("user."))).toBe(true);
    expect(names.filter((n) => ACL_NAMES.has(n)).length).toBeGreaterThan(0);
  });

  it("nouser_xattr hides a fingerprint named in user.*, and inode_share still shares by it", async () => {
    // As the kernel: the fingerprint is read past the namespace handlers.
    const image = join(repoRoot(), "fixtures/fingerprint-user.erofs");
    const names = async (fs: ErofsFs, path: string) => (await fs.listxattr(await fs.lookup(path))).map((n) => new TextDecoder().decode(n));
    const on = await mount(image, { inodeShare: true });
    expect(await names(on, "a")).toContain("user.digest");
    await on.unmount();
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const fs = await mount(image, { cache, inodeShare: true, userXattr: false });
    try {
      expect(fs.sharingEnabled).toBe(true);
      const [a, b, c] = [await fs.lookup("a"), await fs.lookup("b"), await fs.lookup("c")];
      expect(await names(fs, "a")).not.toContain("user.digest");
      expect(await codeOf(fs.getxattr(a, "user.digest"))).toBe("EOPNOTSUPP");
      const [fa, fb, fc] = [await fs.fingerprint(a), await fs.fingerprint(b), await fs.fingerprint(c)];
      expect(fa && fb && fc).toBeTruthy();
      expect(Buffer.from(fa!).equals(Buffer.from(fb!))).toBe(true);
      expect(Buffer.from(fa!).equals(Buffer.from(fc!))).toBe(false);
      // A second mount of the image reads b from the pages the first filled reading a.
      await fs.read(a, 0, a.size);
      const second = await mount(image, { cache, inodeShare: true, userXattr: false });
      const b2 = await second.lookup("b"); // its directory's pages may fill here, not below
      const fills = cache.stats().fills;
      expect(new TextDecoder().decode(await second.read(b2, 0, b2.size))).toBe("the same bytes in two files\n");
      expect(cache.stats().fills).toBe(fills);
      expect(cache.stats().sharedBytesServed).toBe(b.size);
      await second.unmount();
    } finally {
      await fs.unmount();
    }
  });

  for (const img of images) {
    for (const s of SETTINGS) {
      it(`${img.name} with ${s.text}`, async () => {
        const entries = loadManifest(img.manifest).entries;
        const fromText = await mount(img.image, s.text);
        const fromObject = await mount(img.image, { userXattr: s.userXattr, acl: s.acl });
        try {
          expect(fromText.xattrNamespaces).toEqual({ userXattr: s.userXattr, acl: s.acl });
          for (const entry of entries) {
            const all = Object.entries(entry.xattrs ?? {});
            const want = servedNames(Object.keys(entry.xattrs ?? {}), s);
            const where = JSON.stringify(entry.path);
            for (const fs of [fromText, fromObject]) {
              const got = await listed(fs, entry);
              expect([...got.keys()].sort(), where).toEqual(want);
              for (const name of want) expect(got.get(name), `${where} ${name}`).toBe(entry.xattrs[name]);
              const inode = await fs.lookup(nameBytes(entry.path));
              for (const [name] of all.filter(([n]) => !want.includes(n))) {
                expect(await codeOf(fs.getxattr(inode, name)), `${where} ${name}`).toBe("EOPNOTSUPP");
                expect(await codeOf(fs.findxattr(inode, name)), `${where} ${name}`).toBe("EOPNOTSUPP");
              }
              // Absent names too: the namespace is gone, not the attribute. (user.* of other
              // kinds of inode the VFS refuses first, whatever the options: see xattr-caller.)
              const userKind = inode.kind === "file" || inode.kind === "dir";
              expect(await codeOf(fs.getxattr(inode, "user.absent")), where).toBe(s.userXattr || !userKind ? "ENODATA" : "EOPNOTSUPP");
              expect(await codeOf(fs.getxattr(inode, "user.")), where).toBe(userKind ? "EINVAL" : "ENODATA");
            }
          }
        } finally {
          await fromText.unmount();
          await fromObject.unmount();
        }
      });

      it(`${img.name} with ${s.text}, as the kernel lists it`, async (ctx) => {
        const k = KernelMount.tryMount(img.image, { options: s.text.split(",") });
        if (!k) return ctx.skip();
        const fs = await mount(img.image, s.text);
        try {
          const host = hostXattrs(k.dir);
          for (const entry of loadManifest(img.manifest).entries) {
            const path = Buffer.concat([Buffer.from(k.dir), entry.path === "" ? Buffer.alloc(0) : Buffer.concat([Buffer.from("/"), nameBytes(entry.path)])]);
            const kernel = new Map([...(host.get(path.toString("base64")) ?? new Map<string, Uint8Array>())].map(([n, v]) => [n, Buffer.from(v).toString("base64")]));
            expect(await listed(fs, entry), JSON.stringify(entry.path)).toEqual(kernel);
          }
        } finally {
          await fs.unmount();
          k.unmount();
        }
      });
    }
  }
});
