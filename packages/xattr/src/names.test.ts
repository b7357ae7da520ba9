import { ErofsError } from "@erofs-ts/format";
import { describe, expect, it } from "vitest";
import { dec, enc } from "./xattr.test-helper.js";
import { LONG_PREFIX_FLAG, XATTR_INDEX, entryMatches, listedName, namespaceEnabled, parseLongPrefix, resolvePrefix, splitName, storedNameToMatch, type LongPrefix, type XattrEntry } from "./index.js";

const entry = (nameIndex: number, name: string): XattrEntry => ({ nameIndex, name: enc(name), value: new Uint8Array(0) });
const prefixes: LongPrefix[] = [
  { baseIndex: XATTR_INDEX.USER, infix: enc("com.example.very.long.prefix.") },
  { baseIndex: 0, infix: enc("erofs.fingerprint.v1") },
  { baseIndex: XATTR_INDEX.TRUSTED, infix: enc("erofs.") },
];
const user = { prefixes, privileged: false };
const root = { prefixes, privileged: true };

describe("listedName", () => {
  it("the standard name indexes", () => {
    expect(XATTR_INDEX).toEqual({ USER: 1, POSIX_ACL_ACCESS: 2, POSIX_ACL_DEFAULT: 3, TRUSTED: 4, LUSTRE: 5, SECURITY: 6 });
    expect(dec(listedName(entry(1, "mime_type"), user))).toBe("user.mime_type");
    expect(dec(listedName(entry(2, ""), user))).toBe("system.posix_acl_access");
    expect(dec(listedName(entry(3, ""), user))).toBe("system.posix_acl_default");
    expect(dec(listedName(entry(6, "selinux"), user))).toBe("security.selinux");
    expect(dec(listedName(entry(4, "overlay.opaque"), root))).toBe("trusted.overlay.opaque");
  });

  it("trusted.* only for a privileged caller", () => {
    expect(listedName(entry(4, "overlay.opaque"), user)).toBeNull();
  });

  it("nouser_xattr hides user.* (long prefixes on it too), noacl the two ACL names; other namespaces stay", () => {
    const off = { prefixes, privileged: true, userXattr: false, acl: false };
    expect(listedName(entry(1, "mime_type"), off)).toBeNull();
    expect(listedName(entry(LONG_PREFIX_FLAG | 0, "name.one"), off)).toBeNull();
    expect(listedName(entry(2, ""), off)).toBeNull();
    expect(listedName(entry(3, ""), off)).toBeNull();
    expect(dec(listedName(entry(6, "selinux"), off))).toBe("security.selinux");
    expect(dec(listedName(entry(LONG_PREFIX_FLAG | 2, "fp"), off))).toBe("trusted.erofs.fp");
    expect(dec(listedName(entry(2, ""), { ...off, acl: true }))).toBe("system.posix_acl_access");
    expect(dec(listedName(entry(1, "a"), { ...off, userXattr: true }))).toBe("user.a");
    for (const i of Object.values(XATTR_INDEX)) expect(namespaceEnabled(i, {}), `index ${i}`).toBe(true);
    expect([1, 2, 3, 4, 6].map((i) => namespaceEnabled(i, { userXattr: false }))).toEqual([false, true, true, true, true]);
    expect([1, 2, 3, 4, 6].map((i) => namespaceEnabled(i, { acl: false }))).toEqual([true, false, false, true, true]);
  });

  it("names without a namespace prefix are hidden: index 0, lustre, unknown indexes", () => {
    for (const i of [0, 5, 7, 8, 0x7f]) expect(listedName(entry(i, "x"), root), `index ${i}`).toBeNull();
  });

  it("long prefixes: base namespace + infix + name; base index 0 (the default fingerprint) is hidden", () => {
    expect(dec(listedName(entry(LONG_PREFIX_FLAG | 0, "name.one"), user))).toBe("user.com.example.very.long.prefix.name.one");
    expect(listedName(entry(LONG_PREFIX_FLAG | 1, ""), root)).toBeNull();
    expect(dec(listedName(entry(LONG_PREFIX_FLAG | 2, "fp"), root))).toBe("trusted.erofs.fp");
    expect(listedName(entry(LONG_PREFIX_FLAG | 2, "fp"), user)).toBeNull();
  });

  it("a long-prefix id beyond the image's prefixes resolves to nothing and is hidden", () => {
    expect(resolvePrefix(entry(LONG_PREFIX_FLAG | 3, "x"), prefixes)).toBeNull();
    expect(listedName(entry(LONG_PREFIX_FLAG | 3, "x"), root)).toBeNull();
    expect(listedName(entry(LONG_PREFIX_FLAG | 0, "x"), { prefixes: [], privileged: true })).toBeNull();
  });

  it("resolvePrefix of a plain entry has an empty infix", () => {
    const p = resolvePrefix(entry(6, "selinux"), prefixes)!;
    expect(p.baseIndex).toBe(6);
    expect(p.infix.length).toBe(0);
  });
});

describe("splitName", () => {
  const split = (s: string) => {
    const r = splitName(enc(s));
    return r ? [r.index, dec(r.suffix)] : null;
  };
  it("maps names to the handler that owns them", () => {
    expect(split("user.foo")).toEqual([1, "foo"]);
    expect(split("user.")).toEqual([1, ""]);
    expect(split("trusted.overlay.opaque")).toEqual([4, "overlay.opaque"]);
    expect(split("security.selinux")).toEqual([6, "selinux"]);
    expect(split("system.posix_acl_access")).toEqual([2, ""]);
    expect(split("system.posix_acl_default")).toEqual([3, ""]);
  });
  it("ACL handlers own exactly their name; other names have no handler", () => {
    expect(split("system.posix_acl_accessX")).toBeNull();
    expect(split("system.posix_acl_default.x")).toBeNull();
    for (const s of ["system.foo", "lustre.x", "erofs.fingerprint.v1", "user", "", "USER.x"]) expect(split(s), s).toBeNull();
  });
});

describe("entryMatches", () => {
  it("plain entries: same namespace and name", () => {
    expect(entryMatches(entry(1, "foo"), 1, enc("foo"), prefixes)).toBe(true);
    expect(entryMatches(entry(1, "foo"), 6, enc("foo"), prefixes)).toBe(false);
    expect(entryMatches(entry(1, "foo"), 1, enc("fo"), prefixes)).toBe(false);
    expect(entryMatches(entry(1, "foo"), 1, enc("foox"), prefixes)).toBe(false);
    expect(entryMatches(entry(2, ""), 2, enc(""), prefixes)).toBe(true);
  });

  it("long-prefix entries match on infix + name under the base namespace", () => {
    const e = entry(LONG_PREFIX_FLAG | 0, "name.two");
    expect(entryMatches(e, 1, enc("com.example.very.long.prefix.name.two"), prefixes)).toBe(true);
    expect(entryMatches(e, 1, enc("com.example.very.long.prefix.name.tw"), prefixes)).toBe(false);
    expect(entryMatches(e, 1, enc("com.example.very.long.prefiX.name.two"), prefixes)).toBe(false);
    expect(entryMatches(e, 1, enc("name.two"), prefixes)).toBe(false);
    expect(entryMatches(e, 4, enc("com.example.very.long.prefix.name.two"), prefixes)).toBe(false);
    // The fingerprint (base index 0) is found by index 0 and its full name, never by a handler's.
    expect(entryMatches(entry(LONG_PREFIX_FLAG | 1, ""), 0, enc("erofs.fingerprint.v1"), prefixes)).toBe(true);
    expect(entryMatches(entry(LONG_PREFIX_FLAG | 9, "x"), 1, enc("x"), prefixes)).toBe(false);
  });

  it("storedNameToMatch: from the header alone, the part of the name the stored one must equal", () => {
    const suffix = enc("com.example.very.long.prefix.name.two");
    expect(dec(storedNameToMatch(LONG_PREFIX_FLAG | 0, 8, 1, suffix, prefixes)!)).toBe("name.two");
    expect(dec(storedNameToMatch(1, 3, 1, enc("foo"), prefixes)!)).toBe("foo");
    // Wrong length, namespace, infix or prefix id: no candidate, whatever the name holds.
    expect(storedNameToMatch(LONG_PREFIX_FLAG | 0, 7, 1, suffix, prefixes)).toBeNull();
    expect(storedNameToMatch(LONG_PREFIX_FLAG | 0, 8, 4, suffix, prefixes)).toBeNull();
    expect(storedNameToMatch(LONG_PREFIX_FLAG | 0, 8, 1, enc("com.example.very.long.prefiX.name.two"), prefixes)).toBeNull();
    expect(storedNameToMatch(LONG_PREFIX_FLAG | 9, 1, 1, enc("x"), prefixes)).toBeNull();
  });
});

describe("parseLongPrefix", () => {
  it("u8 base index, then the infix", () => {
    const p = parseLongPrefix(Uint8Array.of(1, ...enc("com.")), 0);
    expect(p.baseIndex).toBe(1);
    expect(dec(p.infix)).toBe("com.");
    expect(parseLongPrefix(Uint8Array.of(6), 0).infix.length).toBe(0);
    expect(parseLongPrefix(new Uint8Array(256).fill(0x61).fill(4, 0, 1), 0).infix.length).toBe(255);
  });

  it("an empty record or one longer than a name is corrupt", () => {
    for (const len of [0, 257, 1000]) {
      try {
        parseLongPrefix(new Uint8Array(len), 3);
        expect.unreachable(`length ${len}`);
      } catch (e) {
        expect(ErofsError.isInstance(e) && e.code).toBe("EFSCORRUPTED");
        expect(String(e)).toMatch(/prefix 3/);
      }
    }
  });
});
