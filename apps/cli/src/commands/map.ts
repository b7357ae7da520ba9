import type { FileExtent } from "@erofs-ts/vfs";
import type { Command } from "../context.js";
import { JsonArrayWriter } from "../format/json.js";
import { displayName, jsonName } from "../format/names.js";

const COLUMNS = ["logical", "length", "physical", "stored", "kind"] as const;
const WIDTH = 12;

/** Where the extent's bytes are: an offset on the image, `devN:offset` on an extra device, or inside another inode. */
function place(e: FileExtent): string {
  if (e.device === undefined) return `${e.kind === "fragment" ? "packed" : "metabox"}:${e.physical}`;
  return e.device ? `dev${e.device}:${e.physical}` : String(e.physical);
}

/** "data", "inline", "fragment", or a compressed extent's pcluster format ("lz4", "zstd partial", ...). */
function kindOf(e: FileExtent): string {
  if (e.kind !== "compressed") return e.kind;
  return `${e.format}${e.partial ? " partial" : ""}`;
}

/** Right-aligned numbers, then the kind; two spaces apart however wide a value is. */
function row(cells: readonly string[]): string {
  return cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(WIDTH))).join("  ");
}

export const mapCommand: Command = {
  name: "map",
  summary: "show where files' (or directories') bytes lie: their extents, as FIEMAP (filefrag) reports them on a kernel mount",
  usage: "map IMAGE PATH... [--json]",
  options: { json: { type: "boolean" } },
  minArgs: 1,
  maxArgs: Infinity,
  async run(ctx) {
    const { fs, out, options } = ctx;
    // --json: one array of every path's extents, written as they are mapped, never held.
    const json = options.json ? new JsonArrayWriter((text) => out.write(text)) : undefined;
    for (const arg of ctx.args) {
      const path = new TextEncoder().encode(arg);
      try {
        // As filefrag opens its argument: a symlink is followed.
        const extents = fs.extents(await fs.lookup(path, { follow: true }));
        if (!json && ctx.args.length > 1) await out.line(`${displayName(path) || "/"}:`);
        if (!json) await out.line(row(COLUMNS));
        for await (const e of extents) {
          if (json) await json.add({ path: jsonName(path), ...e });
          else await out.line(row([String(e.logical), String(e.length), place(e), String(e.physicalLength), kindOf(e)]));
        }
      } catch (e) {
        ctx.report(arg, e);
      }
    }
    await json?.end();
  },
};
