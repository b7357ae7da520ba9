import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Output } from "./output.js";

/** A stream that takes each chunk's bytes only some time after write() returned, as a slow pipe does. */
function slowSink(received: Buffer[], fail = false): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      setTimeout(() => {
        if (fail) return done(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
        received.push(Buffer.from(chunk));
        done();
      }, 2);
    },
  });
}

describe("Output.writeBorrowed", () => {
  it("resolves only once the stream has taken the bytes, so one buffer can be refilled for every chunk", async () => {
    const received: Buffer[] = [];
    const out = new Output(slowSink(received));
    // Below the stream's high-water mark: write() alone would report no backpressure.
    const buffer = new Uint8Array(1024);
    for (let i = 0; i < 8; i++) {
      buffer.fill(i);
      await out.writeBorrowed(buffer);
    }
    expect(received.map((b) => [b.length, b[0], b[b.length - 1]])).toEqual(Array.from({ length: 8 }, (_, i) => [1024, i, i]));
  });

  it("rejects with the stream's error", async () => {
    const sink = slowSink([], true);
    sink.on("error", () => {});
    await expect(new Output(sink).writeBorrowed(new Uint8Array(8))).rejects.toMatchObject({ code: "EPIPE" });
  });
});
