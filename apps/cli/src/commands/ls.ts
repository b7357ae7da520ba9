import { ErofsError, type DirectoryEntry, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import type { Command, CommandContext } from "../context.js";
import { JsonArrayWriter } from "../format/json.js";
import { isoTime, modeString } from "../format/mode.js";
import { displayName, joinPath, jsonName } from "../format/names.js";

async function entryJson(fs: ErofsFs, path: Uint8Array, inode: Inode) {
  const s = fs.stat(inode);
  return {
    path: jsonName(path),
    type: s.type,
    mode: s.mode,
    perm: s.perm,
    ino: s.ino,
    nlink: s.nlink,
    uid: s.uid,
    gid: s.gid,
    size: s.sizeBig,
    mtime_ns: s.mtimeNs,
    ...(s.type === "chardev" || s.type === "blockdev" ? { rdev: [s.rdevMajor, s.rdevMinor] } : {}),
    ...(s.type === "symlink" ? { target: jsonName(await fs.readlink(inode)) } : {}),
  };
}

async function longLine(fs: ErofsFs, name: Uint8Array, inode: Inode): Promise<string> {
  const s = fs.stat(inode);
  const size = s.type === "chardev" || s.type === "blockdev" ? `${s.rdevMajor}, ${s.rdevMinor}` : String(s.sizeBig);
  const target = s.type === "symlink" ? ` -> ${displayName(await fs.readlink(inode))}` : "";
  return `${modeString(s.type, s.mode)} ${String(s.nlink).padStart(3)} ${String(s.uid).padStart(5)} ${String(s.gid).padStart(5)} ${size.padStart(10)} ${isoTime(s.mtimeNs)} ${displayName(name)}${target}`;
}

export const lsCommand: Command = {
  name: "ls",
  summary: "list a directory (-l long format, -R recursive)",
  usage: "ls IMAGE [PATH] [-l] [-R] [--json]",
  options: { long: { type: "boolean", short: "l" }, recursive: { type: "boolean", short: "R" }, json: { type: "boolean" } },
  minArgs: 0,
  maxArgs: 1,
  async run(ctx: CommandContext) {
    const { fs, out, options } = ctx;
    const start = new TextEncoder().encode(ctx.args[0] ?? "");
    let top: Inode;
    try {
      top = await fs.lookup(start, { follow: true });
    } catch (e) {
      // Named by the path asked for, as each entry's error is below, not by the image.
      ctx.report(ctx.args[0] || "/", e);
      return;
    }
    // --json: the array is written as entries are listed, never held whole.
    const json = new JsonArrayWriter((text) => out.write(text));
    // A corrupt image can link a directory under itself: each one is listed once.
    const listed = new Set<bigint>([top.nid]);
    const listDir = async (dirPath: Uint8Array, dir: Inode, header: boolean): Promise<void> => {
      // Streamed: a directory is printed as it is read, whatever its size.
      const entries = fs.entries(dir)[Symbol.asyncIterator]();
      if (header && !options.json) await out.line(`${displayName(dirPath) || "."}:`);
      const subdirs: Array<[Uint8Array, Inode]> = [];
      // A plain listing prints names as readdir(2) gives them, so an entry whose inode is
      // corrupt is still listed, as on a kernel mount. Where the inode is needed (-l,
      // --json, -R) such an entry is reported and the others listed; so is the rest of a
      // listing that breaks off at a corrupt block, and the subdirectories found before it
      // are still listed.
      const plain = !options.long && !options.json;
      for (;;) {
        let next: IteratorResult<DirectoryEntry>;
        try {
          next = await entries.next();
        } catch (err) {
          ctx.report(displayName(dirPath) || ".", err);
          break;
        }
        if (next.done) break;
        const e = next.value;
        const path = joinPath(dirPath, e.name);
        if (plain) await out.line(displayName(e.name));
        if (plain && !options.recursive) continue;
        let inode: Inode;
        let record: string | object | undefined;
        try {
          inode = await fs.iget(e.nid);
          if (options.json) record = await entryJson(fs, path, inode);
          else if (options.long) record = await longLine(fs, e.name, inode);
        } catch (err) {
          ctx.report(displayName(path), err);
          continue;
        }
        if (options.json) await json.add(record);
        else if (options.long) await out.line(record as string);
        if (!options.recursive || inode.kind !== "dir") continue;
        if (listed.has(inode.nid)) ctx.report(displayName(path), new ErofsError("EFSCORRUPTED", "directory loop: not listed again"));
        else {
          listed.add(inode.nid);
          subdirs.push([path, inode]);
        }
      }
      for (const [path, inode] of subdirs) {
        if (!options.json) await out.line();
        await listDir(path, inode, true);
      }
    };
    if (top.kind === "dir") await listDir(start, top, Boolean(options.recursive) && !options.json);
    else if (options.json) await json.add(await entryJson(fs, start, top));
    else await out.line(options.long ? await longLine(fs, start, top) : displayName(start));
    if (options.json) await json.end();
  },
};

export { entryJson };
