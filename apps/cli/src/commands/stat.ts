import type { Command } from "../context.js";
import { toJson } from "../format/json.js";
import { isoTime, modeString } from "../format/mode.js";
import { displayName } from "../format/names.js";
import { entryJson } from "./ls.js";

export const statCommand: Command = {
  name: "stat",
  summary: "show an inode: type, mode, ino, links, owner, size, time",
  usage: "stat IMAGE PATH... [--json]",
  options: { json: { type: "boolean" } },
  minArgs: 1,
  maxArgs: Infinity,
  async run(ctx) {
    const { fs, out, options } = ctx;
    const all: unknown[] = [];
    for (const arg of ctx.args) {
      const path = new TextEncoder().encode(arg);
      let inode;
      try {
        inode = await fs.lookup(path);
      } catch (e) {
        ctx.report(arg, e);
        continue;
      }
      const s = fs.stat(inode);
      if (options.json) {
        all.push({ ...(await entryJson(fs, path, inode)), nid: s.nid, blocks: s.blocksBig, blockSize: s.blockSize, compressed: s.compressed });
        continue;
      }
      const target = s.type === "symlink" ? ` -> ${displayName(await fs.readlink(inode))}` : "";
      await out.line(`  File: ${displayName(path) || "/"}${target}`);
      await out.line(`  Type: ${s.type}${s.compressed ? " (compressed)" : ""}  Size: ${s.sizeBig}  Blocks: ${s.blocksBig}  IO Block: ${s.blockSize}`);
      const dev = s.type === "chardev" || s.type === "blockdev" ? `  Device: ${s.rdevMajor},${s.rdevMinor}` : "";
      await out.line(`Inode: ${s.ino}  nid: ${s.nid}  Links: ${s.nlink}${dev}`);
      await out.line(`Access: (${(s.perm).toString(8).padStart(4, "0")}/${modeString(s.type, s.mode)})  Uid: ${s.uid}  Gid: ${s.gid}`);
      await out.line(`Modify: ${isoTime(s.mtimeNs)}`);
    }
    if (options.json) await out.line(toJson(ctx.args.length === 1 ? all[0] ?? null : all));
  },
};
