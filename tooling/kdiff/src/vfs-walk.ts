import { createHash } from "node:crypto";
import { ErofsError, PAGE_SIZE, mount, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { fiemapAnswer, unifiedDeviceStart } from "@erofs-ts/testkit";
import { MAX_EXTENTS } from "./host-probe.js";
import { b64, readRanges, shortHash, type WalkEntry, type WalkResult } from "./walk.js";

/**
 * The kernel walk (kernel-walk.ts) through erofs-ts's vfs: the same calls in the same
 * order, with what a kernel mount would answer put where the kernel's answer goes. An
 * ErofsError gives its code; any other exception is recorded as unexpected (a bug here
 * whatever the kernel says).
 */
export async function walkVfs(image: string, device: string | null): Promise<WalkResult> {
  const unexpected: string[] = [];
  const codeOf = (where: string, e: unknown): string => {
    if (ErofsError.isInstance(e)) return e.code;
    unexpected.push(`${where}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return `X${(e as Error | null)?.name ?? "?"}`;
  };
  let fs: ErofsFs;
  try {
    fs = await mount(image, device ? { devices: [device] } : {});
  } catch (e) {
    return { mountError: `${codeOf("mount", e)} ${String((e as Error | null)?.message ?? e)}`, entries: [], unexpected };
  }
  try {
    const entries: WalkEntry[] = [];
    const visit = async (rel: Buffer, inode: Inode) => {
      const st = fs.stat(inode);
      const e: WalkEntry = {
        path: b64(rel),
        type: st.type,
        perm: st.perm,
        uid: st.uid,
        gid: st.gid,
        size: String(st.sizeBig),
        mtimeNs: String(st.mtimeNs),
        nlink: st.nlink,
        ino: String(st.ino),
        blocks: String(st.blocksBig),
      };
      entries.push(e);
      if (st.type === "chardev" || st.type === "blockdev") e.rdev = [st.rdevMajor, st.rdevMinor];
      if (st.type === "symlink") {
        try {
          e.target = b64(await fs.readlink(inode));
        } catch (x) {
          e.target = codeOf(`readlink ${rel}`, x);
        }
      }
      try {
        const pairs: [string, string][] = [];
        for (const name of await fs.listxattr(inode)) {
          try {
            pairs.push([b64(name), b64(await fs.getxattr(inode, name))]);
          } catch (x) {
            pairs.push([b64(name), codeOf(`getxattr ${rel}`, x)]);
          }
        }
        e.xattrs = pairs;
      } catch (x) {
        e.xattrs = codeOf(`listxattr ${rel}`, x);
      }
      if (st.type === "file") await readFile(fs, inode, rel, st.size, e, codeOf);
      if (st.type === "file" || st.type === "dir") e.extents = await extentsOf(fs, inode, (x) => codeOf(`extents ${rel}`, x));
      if (st.type === "dir") {
        let children;
        try {
          children = await fs.readdir(inode, { dots: false });
        } catch (x) {
          e.children = codeOf(`readdir ${rel}`, x);
          return;
        }
        e.children = children.map((c) => b64(c.name));
        for (const c of children) {
          const name = Buffer.from(c.name);
          const childRel = rel.length ? Buffer.concat([rel, Buffer.from("/"), name]) : name;
          let child: Inode;
          try {
            child = await fs.lookupChild(inode, c.name);
          } catch (x) {
            entries.push({ path: b64(childRel), lookupError: codeOf(`lookup ${childRel}`, x) });
            continue;
          }
          await visit(childRel, child);
        }
      }
    };
    try {
      await visit(Buffer.alloc(0), await fs.root());
    } catch (x) {
      entries.push({ path: "", lookupError: codeOf("walk", x) });
    }
    const s = fs.statfs();
    return { statfs: { bsize: s.bsize, blocks: String(s.blocks), files: String(s.files), ffree: String(s.ffree), namemax: s.namemax }, entries, unexpected };
  } finally {
    await fs.unmount();
  }
}

const CHUNK = 1 << 20;

/**
 * A positional read as pread(2) on a mount answers it, where fs.read answers all or
 * nothing: when the range fails, the kernel's page cache retries it a page at a time (its
 * read_folio after a failed readahead) and returns the bytes before the first page that
 * fails, failing only when that is the first. erofs-fuse's mounts answer so too: the
 * kernel's FUSE retries a failed READ the same way. A range that fails whole while each
 * of its pages reads is still a failure.
 */
export async function readAsSyscall(fs: ErofsFs, inode: Inode, offset: number, length: number): Promise<Uint8Array> {
  try {
    return await fs.read(inode, offset, length);
  } catch (whole) {
    if (!ErofsError.isInstance(whole)) throw whole;
    const pages: Uint8Array[] = [];
    for (let pos = offset; pos < offset + length; ) {
      const end = Math.min((Math.floor(pos / PAGE_SIZE) + 1) * PAGE_SIZE, offset + length);
      try {
        pages.push(await fs.read(inode, pos, end - pos));
      } catch (x) {
        if (!pages.length) throw x;
        break;
      }
      pos = end;
    }
    const read = Buffer.concat(pages);
    // Every page read alone where the whole range failed: that is the vfs's own fault,
    // not damage, so the failure stands and shows as a difference.
    if (read.length === length) throw whole;
    return read;
  }
}

async function readFile(fs: ErofsFs, inode: Inode, rel: Buffer, size: number, e: WalkEntry, codeOf: (where: string, e: unknown) => string): Promise<void> {
  if (size > 0) {
    e.ranges = [];
    for (const [offset, length] of readRanges(rel, size)) {
      try {
        // pread(2) stops at EOF; the vfs is asked for what lies before it.
        e.ranges.push([offset, length, shortHash(await readAsSyscall(fs, inode, offset, Math.min(length, size - offset)))]);
      } catch (x) {
        e.ranges.push([offset, length, codeOf(`read ${rel}@${offset}`, x)]);
      }
    }
  }
  const h = createHash("sha256");
  try {
    for (let offset = 0; offset < size; offset += CHUNK) {
      const b = await fs.read(inode, offset, Math.min(CHUNK, size - offset), { cache: false });
      h.update(b);
      if (b.length === 0) break;
    }
    e.sha256 = h.digest("hex");
  } catch (x) {
    e.sha256 = codeOf(`read ${rel}`, x);
  }
}

/** The first MAX_EXTENTS extents as the kernel's FIEMAP reports them (fiemapAnswer). */
function extentsOf(fs: ErofsFs, inode: Inode, codeOf: (e: unknown) => string): Promise<number[][] | string> {
  return fiemapAnswer(fs.extents(inode), codeOf, { deviceStart: unifiedDeviceStart(fs), cap: MAX_EXTENTS });
}
