import type { Command } from "../context.js";

export const catCommand: Command = {
  name: "cat",
  summary: "write files' contents to stdout, streamed",
  usage: "cat IMAGE PATH... [--stats]",
  options: { stats: { type: "boolean" } },
  minArgs: 1,
  maxArgs: Infinity,
  async run(ctx) {
    const { fs, out } = ctx;
    for (const arg of ctx.args) {
      try {
        const inode = await fs.lookup(new TextEncoder().encode(arg), { follow: true });
        for await (const chunk of fs.readChunks(inode)) await out.write(chunk);
      } catch (e) {
        ctx.report(arg, e);
      }
    }
    if (ctx.options.stats) {
      const { data } = fs.cacheStats();
      process.stderr.write(`cache: ${data.pages} pages, ${data.bytes} bytes, ${data.hits} hits, ${data.misses} misses, ${data.fills} fills\n`);
    }
  },
};
