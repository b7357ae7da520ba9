import type { Writable } from "node:stream";

/** Writes to a stream honouring backpressure (large `cat` output never piles up in memory). */
export class Output {
  constructor(readonly stream: Writable) {}

  async write(chunk: Uint8Array | string): Promise<void> {
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          this.stream.off("drain", onDrain);
          this.stream.off("error", done);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = () => done();
        this.stream.once("drain", onDrain);
        this.stream.once("error", done);
      });
    }
  }

  /**
   * Writes a chunk whose buffer the caller fills again once this resolves: it waits for
   * the write's own callback, run when the stream has handed the bytes on. write()'s
   * promise waits for "drain" only when the stream is over its high-water mark, and a
   * chunk below it may still sit in the stream's queue when that promise resolves.
   */
  writeBorrowed(chunk: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.stream.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  }

  line(text = ""): Promise<void> {
    return this.write(text + "\n");
  }
}
