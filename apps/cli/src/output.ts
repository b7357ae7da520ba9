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

  line(text = ""): Promise<void> {
    return this.write(text + "\n");
  }
}
