import { ErofsError, onePassReads, type Inode } from "@erofs-ts/vfs";
import type { Command } from "../context.js";

/**
 * Kinds whose bytes an image does not hold: on a mount, opening one reaches the host's
 * device, a pipe or a socket. Printing nothing and succeeding would pass for an empty file.
 */
const NO_CONTENTS: Partial<Record<Inode["kind"], string>> = {
  fifo: "a fifo",
  socket: "a socket",
  chardev: "a character device",
  blockdev: "a block device",
};

export const catCommand: Command = {
  name: "cat",
  summary: "write files' contents to stdout, streamed",
  usage: "cat IMAGE PATH... [--stats]",
  options: { stats: { type: "boolean" } },
  minArgs: 1,
  maxArgs: Infinity,
  async run(ctx) {
    const { fs, out } = ctx;
    // Each chunk is written out before its buffer is filled again (writeBorrowed).
    const stream = onePassReads();
    for (const arg of ctx.args) {
      try {
        const inode = await fs.lookup(new TextEncoder().encode(arg), { follow: true });
        const special = NO_CONTENTS[inode.kind];
        if (special) throw new ErofsError("EINVAL", `is ${special}: the image holds no contents for it`);
        for await (const chunk of fs.readChunks(inode, stream)) await out.writeBorrowed(chunk);
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
