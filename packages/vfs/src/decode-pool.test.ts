import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { createDecompressor } from "@erofs-ts/decompress";
import { ErofsError } from "@erofs-ts/format";
import { DecodePool, type ShareJob } from "./decode-pool.js";

// A literals-only LZ4 block: token (5 literals), then the bytes.
const block = Uint8Array.from([0x50, 1, 2, 3, 4, 5]);
const config = { zeroPadding: false, blockSize: 4096 };
const local = createDecompressor(0, config);

const pool = DecodePool.start(2);

/** A literal-only LZ4 block: `n` bytes of value `v`. */
function literals(v: number, n: number): Uint8Array {
  if (n < 15) return Uint8Array.from([n << 4, ...new Array<number>(n).fill(v)]);
  // Token 15, then the rest of the length in bytes of 255 and a final smaller one.
  const extra: number[] = [];
  let rest = n - 15;
  for (; rest >= 255; rest -= 255) extra.push(255);
  extra.push(rest);
  const out = new Uint8Array(1 + extra.length + n).fill(v);
  out[0] = 0xf0;
  out.set(extra, 1);
  return out;
}

/**
 * Runs `jobs` through share(), recording which side decoded each; returns the outputs.
 * `first` runs before this side's first job.
 */
async function shareAll(p: DecodePool, jobs: ShareJob[], first?: () => Promise<void>): Promise<{ outs: Uint8Array[]; here: number; there: number }> {
  const outs = jobs.map((j) => new Uint8Array(j.outLength));
  let here = 0;
  let there = 0;
  await p.share(
    0,
    config,
    "t",
    jobs,
    async (i) => {
      if (here++ === 0) await first?.();
      await local.decode(jobs[i]!.input, outs[i]!, jobs[i]!.partial);
    },
    (i, bytes) => {
      there++;
      outs[i]!.set(bytes);
    },
  );
  return { outs, here, there };
}

describe.skipIf(!pool)("DecodePool.share", () => {
  it("decodes every job exactly once, between this thread and a worker, into the right places", async () => {
    const jobs = Array.from({ length: 400 }, (_, i) => ({ input: literals(i & 0xff, 1 + (i % 14)), outLength: 1 + (i % 14), partial: false }));
    const { outs, here, there } = await shareAll(pool!, jobs);
    expect(here + there).toBe(jobs.length);
    outs.forEach((o, i) => expect([...o]).toEqual(new Array(1 + (i % 14)).fill(i & 0xff)));
  });

  it("lets the worker take jobs while this thread is busy", async () => {
    const jobs = Array.from({ length: 50 }, () => ({ input: block, outLength: 5, partial: false }));
    let there = 0;
    await pool!.share(
      0,
      config,
      "t",
      jobs,
      // A slow local side: the worker, taking jobs from the shared counter, does most.
      () => new Promise((r) => setTimeout(r, 5)),
      () => there++,
    );
    expect(there).toBeGreaterThan(25);
  });

  it("passes the worker's corruption back as the same EFSCORRUPTED error, and keeps working", async () => {
    const jobs = Array.from({ length: 40 }, (_, i) => ({ input: block, outLength: i === 39 ? 9 : 5, partial: false }));
    // This thread decodes nothing (it hands every job it takes to the same decoder, which
    // throws for the bad one too): whichever side takes the bad job, the fill fails alike.
    const e = await shareAll(pool!, jobs).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EFSCORRUPTED");
    expect(String((e as Error).message)).toMatch(/^lz4: .*\(lz4 pcluster\)$/);
    // Whichever side threw it, the place is named once: rebuilt from the worker's reason.
    expect((e as ErofsError).reason).toMatch(/^lz4: /);
    expect((e as ErofsError).reason).not.toContain("lz4 pcluster");
    const again = await shareAll(pool!, Array.from({ length: 20 }, () => ({ input: block, outLength: 5, partial: false })));
    for (const out of again.outs) expect([...out]).toEqual([1, 2, 3, 4, 5]);
  });

  it("does not transfer away the caller's inputs", async () => {
    const input = block.slice();
    await shareAll(pool!, [
      { input, outLength: 5, partial: false },
      { input, outLength: 5, partial: false },
    ]);
    expect(input.length).toBe(6);
  });
});

describe.skipIf(!pool)("DecodePool with a worker that never answers", () => {
  it("a fill whose every job this thread took does not wait for the worker", async () => {
    // A worker that takes no job and never says it is done (as one busy with another
    // fill's jobs would, for a while): waiting for it would never end.
    const dir = mkdtempSync(join(tmpdir(), "erofs-pool-"));
    const script = join(dir, "silent-worker.mjs");
    writeFileSync(script, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n");
    const p = DecodePool.start(1, script)!;
    try {
      const { outs, here, there } = await shareAll(p, Array.from({ length: 8 }, () => ({ input: block, outLength: 5, partial: false })));
      expect([here, there]).toEqual([8, 0]);
      for (const out of outs) expect([...out]).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);
});

describe.skipIf(!pool)("DecodePool without workers", () => {
  it("decodes here what a worker claimed but did not finish when it died", async () => {
    const p = DecodePool.start(1)!;
    // Large enough that the worker is still busy when it is stopped.
    const size = 1 << 20;
    const jobs = Array.from({ length: 200 }, (_, i) => ({ input: literals(i & 0xff, size), outLength: size, partial: false }));
    // The worker is stopped while this side is still at its first job.
    const { outs, here, there } = await shareAll(p, jobs, () => p.close());
    expect(here + there).toBe(jobs.length);
    expect(here).toBeGreaterThan(jobs.length / 2);
    outs.forEach((o, i) => expect(o.every((b) => b === (i & 0xff))).toBe(true));
  });

  it("finishes every job on this thread once its workers are gone", async () => {
    const p = DecodePool.start(1)!;
    await p.close();
    expect(p.size).toBe(0);
    const { outs, here, there } = await shareAll(p, Array.from({ length: 10 }, () => ({ input: block, outLength: 5, partial: false })));
    expect([here, there]).toEqual([10, 0]);
    for (const out of outs) expect([...out]).toEqual([1, 2, 3, 4, 5]);
  });
});

describe.skipIf(!pool)("DecodePool messages", () => {
  it("the worker answers a fill once, whatever its number of jobs", async () => {
    // The real worker, its answers counted on their way out (into a file this test reads).
    const dir = mkdtempSync(join(tmpdir(), "erofs-pool-"));
    const count = join(dir, "count");
    const script = join(dir, "counting-worker.mjs");
    const real = fileURLToPath(new URL("../dist/decode-worker.js", import.meta.url));
    writeFileSync(
      script,
      [
        "import { parentPort } from 'node:worker_threads';",
        "import { writeFileSync } from 'node:fs';",
        "let n = 0;",
        "const post = parentPort.postMessage.bind(parentPort);",
        `parentPort.postMessage = (m) => { writeFileSync(${JSON.stringify(count)}, String(++n)); post(m); };`,
        `await import(${JSON.stringify(pathToFileURL(real).href)});`,
      ].join("\n"),
    );
    const p = DecodePool.start(1, script)!;
    try {
      // This side waits before its first job, so the worker decodes most of the 200.
      const jobs = Array.from({ length: 200 }, (_, i) => ({ input: literals(i & 0xff, 64), outLength: 64, partial: false }));
      const { outs, there } = await shareAll(p, jobs, () => new Promise((r) => setTimeout(r, 200)));
      expect(there).toBeGreaterThan(100);
      outs.forEach((o, i) => expect(o.every((b) => b === (i & 0xff))).toBe(true));
      expect(readFileSync(count, "utf8")).toBe("1");
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);
});
