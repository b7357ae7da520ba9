import { describe, expect, it } from "vitest";
import { ErofsError } from "@erofs-ts/format";
import { DecodePool } from "./decode-pool.js";

// A literals-only LZ4 block: token (5 literals), then the bytes.
const block = Uint8Array.from([0x50, 1, 2, 3, 4, 5]);
const config = { zeroPadding: false, blockSize: 4096 };

const pool = DecodePool.start(2);

describe.skipIf(!pool)("DecodePool", () => {
  it("decodes on a worker, as the main thread would", async () => {
    const out = await pool!.decode(0, config, "t", block, 5, false);
    expect([...out]).toEqual([1, 2, 3, 4, 5]);
  });

  it("passes corruption back as the same EFSCORRUPTED error, and keeps working", async () => {
    const e = await pool!.decode(0, config, "t", block, 9, false).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EFSCORRUPTED");
    expect(String((e as Error).message)).toMatch(/^lz4: .*\(lz4 pcluster\)$/);
    const many = await Promise.all(Array.from({ length: 20 }, () => pool!.decode(0, config, "t", block, 5, false)));
    for (const out of many) expect([...out]).toEqual([1, 2, 3, 4, 5]);
  });

  it("does not transfer away the caller's input", async () => {
    const input = block.slice();
    await pool!.decode(0, config, "t", input, 5, false);
    expect(input.length).toBe(6);
  });
});

describe.skipIf(!pool)("DecodePool without workers", () => {
  it("fails pending and later jobs with EIO once its workers are gone", async () => {
    const p = DecodePool.start(1)!;
    const pending = p.decode(0, config, "t", block, 5, false).catch((x: unknown) => x);
    await p.close();
    const e = await pending;
    // Either it finished before the worker stopped, or it failed with EIO: never a hang.
    if (!(e instanceof Uint8Array)) expect(ErofsError.isInstance(e) && e.code).toBe("EIO");
    expect(p.size).toBe(0);
    const later = await p.decode(0, config, "t", block, 5, false).catch((x: unknown) => x);
    expect(ErofsError.isInstance(later) && later.code).toBe("EIO");
  });
});
