import type { Command } from "../context.js";
import { toJson } from "../format/json.js";
import { displayName, utf8OrNull } from "../format/names.js";

/** getfattr's text form for a value: "quoted" when printable UTF-8, else 0x hex. */
function valueText(v: Uint8Array): string {
  const text = utf8OrNull(v);
  if (text !== null && !/[\x00-\x08\x0b-\x1f\x7f]/.test(text)) return JSON.stringify(text);
  return "0x" + Buffer.from(v).toString("hex");
}

export const xattrCommand: Command = {
  name: "xattr",
  summary: "list extended attributes (-n NAME: one value, -d: dump values)",
  usage: "xattr IMAGE PATH [-n NAME] [-d] [--json]",
  options: { name: { type: "string", short: "n" }, dump: { type: "boolean", short: "d" } },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx) {
    const { fs, out, options } = ctx;
    const inode = await fs.lookup(new TextEncoder().encode(ctx.args[0]!));
    const names = typeof options.name === "string" ? [new TextEncoder().encode(options.name)] : await fs.listxattr(inode);
    const json: Record<string, string> = {};
    for (const name of names) {
      const shown = displayName(name);
      if (!options.dump && !options.name && !options.json) {
        await out.line(shown);
        continue;
      }
      const value = await fs.getxattr(inode, name);
      if (options.json) json[shown] = Buffer.from(value).toString("base64");
      else await out.line(`${shown}=${valueText(value)}`);
    }
    if (options.json) await out.line(toJson(json));
  },
};
