import { ErofsError, hasCapSysAdmin } from "@erofs-ts/vfs";
import type { Command, CommandContext } from "../context.js";
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
  options: { name: { type: "string", short: "n" }, dump: { type: "boolean", short: "d" }, json: { type: "boolean" } },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx) {
    try {
      await listOrGet(ctx);
    } catch (e) {
      // Named as getfattr names them: by the path (a missing file, a missing -n NAME).
      if (!ErofsError.isInstance(e)) throw e;
      ctx.report(ctx.args[0]!, e);
    }
  },
};

async function listOrGet(ctx: CommandContext): Promise<void> {
  const { fs, out, options } = ctx;
  const inode = await fs.lookup(new TextEncoder().encode(ctx.args[0]!));
  // As on a kernel mount, trusted.* is for a caller holding CAP_SYS_ADMIN only.
  const caller = { privileged: hasCapSysAdmin() };
  const one = typeof options.name === "string";
  const names = one ? [new TextEncoder().encode(options.name as string)] : await fs.listxattr(inode, caller);
  const json: Record<string, string> = {};
  for (const name of names) {
    const shown = displayName(name);
    if (!options.dump && !one && !options.json) {
      await out.line(shown);
      continue;
    }
    // A listed name getxattr refuses (user.* of a symlink) is left out, as getfattr -d does.
    const value = one ? await fs.getxattr(inode, name, caller) : await fs.findxattr(inode, name, caller);
    if (!value) continue;
    if (options.json) json[shown] = Buffer.from(value).toString("base64");
    else await out.line(`${shown}=${valueText(value)}`);
  }
  if (options.json) await out.line(toJson(json));
}
