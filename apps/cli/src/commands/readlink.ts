import type { Command } from "../context.js";

export const readlinkCommand: Command = {
  name: "readlink",
  summary: "print a symlink's target",
  usage: "readlink IMAGE PATH...",
  options: {},
  minArgs: 1,
  maxArgs: Infinity,
  async run(ctx) {
    for (const arg of ctx.args) {
      try {
        const target = await ctx.fs.readlink(await ctx.fs.lookup(new TextEncoder().encode(arg)));
        await ctx.out.write(target);
        await ctx.out.line();
      } catch (e) {
        ctx.report(arg, e);
      }
    }
  },
};
