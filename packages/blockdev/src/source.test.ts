import { execFileSync } from "node:child_process";
import { symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErofsError } from "@erofs-ts/format";
import { ScratchDir } from "@erofs-ts/testkit";
import { BufferPool, FileSource, MemorySource, OffsetSource, ReadaheadSource, readBytes, readView, type BlockSource } from "./index.js";

const dir = new ScratchDir("blockdev-");
afterAll(dir.remove);
const bytes = Uint8Array.from({ length: 10000 }, (_, i) => (i * 7 + 3) & 0xff);
/** The file backends' image, written before the first test. */
let path = "";
beforeAll(() => {
  path = join(dir.path, "img");
  writeFileSync(path, bytes);
});

const backends: Array<[string, () => Promise<BlockSource>, Uint8Array]> = [
  ["memory", async () => new MemorySource(bytes), bytes],
  ["file", () => FileSource.open(path), bytes],
  ["file, syncReads", () => FileSource.open(path, { syncReads: true }), bytes],
  ["offset(memory)", async () => new OffsetSource(new MemorySource(bytes), 1000), bytes.subarray(1000)],
  ["offset(file)", async () => new OffsetSource(await FileSource.open(path), 4096), bytes.subarray(4096)],
  // Windows of 1 KiB over a 10000-byte source: reads inside one window, across two, past a
  // window's size, and the short last window are all exercised by the suite below.
  ["readahead(file)", async () => new ReadaheadSource(await FileSource.open(path), { windowBytes: 1024, windows: 2 }), bytes],
  ["readahead(file, syncReads)", async () => new ReadaheadSource(await FileSource.open(path, { syncReads: true }), { windowBytes: 1024, windows: 2 }), bytes],
  ["readahead(offset(memory))", async () => new ReadaheadSource(new OffsetSource(new MemorySource(bytes), 1000), { windowBytes: 512, windows: 3 }), bytes.subarray(1000)],
];

// One suite over every backend: they must behave identically.
describe.each(backends)("%s source", (_name, open, expected) => {
  it("reports its size and reads at any position", async () => {
    const s = await open();
    expect(s.size).toBe(expected.length);
    expect(await readBytes(s, 0, 16)).toEqual(expected.subarray(0, 16));
    expect(await readBytes(s, 777, 3000)).toEqual(expected.subarray(777, 3777));
    expect(await readBytes(s, expected.length - 5, 5)).toEqual(expected.subarray(expected.length - 5));
    await s.close();
  });

  it("throws EIO for reads past the end or at bad positions", async () => {
    const s = await open();
    for (const [pos, len] of [[expected.length - 4, 5], [expected.length + 1, 1], [-1, 1], [1.5, 1]] as const) {
      const e = await readBytes(s, pos, len).catch((x: unknown) => x);
      expect(ErofsError.isInstance(e) && e.code).toBe("EIO");
    }
    await s.close();
  });

  it("serves concurrent reads independently", async () => {
    const s = await open();
    const parts = await Promise.all(Array.from({ length: 20 }, (_, i) => readBytes(s, i * 100, 100)));
    parts.forEach((p, i) => expect(p).toEqual(expected.subarray(i * 100, i * 100 + 100)));
    await s.close();
  });
});

describe("FileSource.open", () => {
  it("gives ENOENT with the path for a missing file", async () => {
    const e = await FileSource.open(join(dir.path, "missing")).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("ENOENT");
    expect(String(e)).toContain("missing");
  });

  it("names other open failures in the host's words and keeps their errno (a path through a file, a symlink loop)", async () => {
    const file = join(dir.path, "plain-file");
    writeFileSync(file, "x");
    symlinkSync(join(dir.path, "loop-b"), join(dir.path, "loop-a"));
    symlinkSync(join(dir.path, "loop-a"), join(dir.path, "loop-b"));
    const failures = [];
    for (const target of [join(file, "image"), join(dir.path, "loop-a")]) {
      const e = await FileSource.open(target).catch((x: unknown) => x);
      failures.push(ErofsError.isInstance(e) && [e.code, e.reason, e.where]);
    }
    expect(failures).toEqual([
      ["ENOTDIR", "cannot open: not a directory (ENOTDIR)", join(file, "image")],
      ["ELOOP", "cannot open: too many symbolic links encountered (ELOOP)", join(dir.path, "loop-a")],
    ]);
  });

  it("refuses a directory", async () => {
    const e = await FileSource.open(dir.path).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EINVAL");
  });

  it("refuses a fifo at once, with no writer at the other end (opening it for reading would wait for one)", async () => {
    const fifo = join(dir.path, "fifo");
    execFileSync("mkfifo", [fifo]);
    const e = await FileSource.open(fifo).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && [e.code, e.message]).toEqual(["EINVAL", expect.stringContaining("not a file or block device")]);
  });

  it("calls afterOpen with the descriptor and afterRead with each range read; a throwing hook does not fail the read", async () => {
    const calls: string[] = [];
    const s = await FileSource.open(path, {
      afterOpen: (fd) => calls.push(`open ${typeof fd === "number" && fd >= 0}`),
      afterRead: (fd, position, length) => {
        calls.push(`read ${fd >= 0} ${position} ${length}`);
        throw new Error("advice refused");
      },
    });
    expect(await readBytes(s, 100, 50)).toEqual(bytes.subarray(100, 150));
    expect(await readBytes(s, 9000, 1000)).toEqual(bytes.subarray(9000));
    await s.close();
    expect(calls).toEqual(["open true", "read true 100 50", "read true 9000 1000"]);
  });
});

describe("OffsetSource", () => {
  it("rejects an offset outside the source", () => {
    expect(() => new OffsetSource(new MemorySource(bytes), 10001)).toThrow(/fsoffset/);
  });
});

describe("FileSource", () => {
  it.each([false, true])("reports a file cut short under it as EIO, not a Node error (syncReads %s)", async (syncReads) => {
    const shrinking = join(dir.path, `shrinking-${syncReads}`);
    writeFileSync(shrinking, bytes);
    const s = await FileSource.open(shrinking, { syncReads });
    truncateSync(shrinking, 100);
    expect(await readBytes(s, 0, 100)).toEqual(bytes.subarray(0, 100));
    const e = await readBytes(s, 50, 200).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EIO");
    await s.close();
  });

  it("refuses reads once closed (its descriptor number may be another file's by then)", async () => {
    const s = await FileSource.open(path);
    expect(await readBytes(s, 0, 8)).toEqual(bytes.subarray(0, 8));
    await s.close();
    const other = await FileSource.open(path);
    const e = await readBytes(s, 0, 8).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EIO");
    await other.close();
  });
});

describe("ReadaheadSource", () => {
  it("returns the same bytes as its source for any mix of sequential and scattered reads", async () => {
    const s = new ReadaheadSource(await FileSource.open(path), { windowBytes: 1024, windows: 2 });
    for (let i = 0, pos = 0; i < 400; i++) {
      const len = 1 + ((i * 37) % 1500);
      pos = i % 7 === 0 ? (i * 7919) % (bytes.length - len) : Math.min(pos + len, bytes.length - len);
      expect(await readBytes(s, pos, len)).toEqual(bytes.subarray(pos, pos + len));
    }
    await s.close();
  });

  it("release() forgets its windows: later reads go to the source again and get the same bytes", async () => {
    let reads = 0;
    const file = await FileSource.open(path);
    const counting: BlockSource = {
      name: file.name,
      size: file.size,
      read: (target, position) => {
        reads++;
        return file.read(target, position);
      },
      close: () => file.close(),
    };
    const s = new ReadaheadSource(counting, { windowBytes: 1024, windows: 4, ahead: 0 });
    expect(await readBytes(s, 100, 50)).toEqual(bytes.subarray(100, 150));
    expect(await readBytes(s, 200, 50)).toEqual(bytes.subarray(200, 250));
    expect(reads).toBe(1);
    s.release();
    expect(await readBytes(s, 200, 50)).toEqual(bytes.subarray(200, 250));
    expect(reads).toBe(2);
    await s.close();
  });

  it("reports a failed window to the reader and tries again later", async () => {
    let fail = true;
    const inner: BlockSource = {
      name: "flaky",
      size: bytes.length,
      read: async (t, p) => {
        if (fail) throw new ErofsError("EIO", "flaky");
        t.set(bytes.subarray(p, p + t.length));
      },
      close: async () => {},
    };
    const s = new ReadaheadSource(inner, { windowBytes: 1024, windows: 2 });
    const e = await readBytes(s, 10, 10).catch((x: unknown) => x);
    expect(ErofsError.isInstance(e) && e.code).toBe("EIO");
    fail = false;
    expect(await readBytes(s, 10, 10)).toEqual(bytes.subarray(10, 20));
  });

  it("views: the same bytes, shared with a window when inside one, through OffsetSource too", async () => {
    const s = new ReadaheadSource(new MemorySource(bytes), { windowBytes: 1024, windows: 8 });
    for (const [pos, len] of [[0, 10], [1000, 48], [1020, 10], [3000, 3000], [9990, 10], [5, 0]] as const) {
      expect(await readView(s, pos, len)).toEqual(bytes.subarray(pos, pos + len));
    }
    const o = new OffsetSource(s, 100);
    expect(await readView(o, 50, 20)).toEqual(bytes.subarray(150, 170));
    expect(await readView(new MemorySource(bytes), 7, 3)).toEqual(bytes.subarray(7, 10));
  });

  it("fetches ahead of a sequential reader, and not of a scattered one", async () => {
    const seen: number[] = [];
    const inner: BlockSource = {
      name: "counting",
      size: bytes.length,
      read: async (t, p) => {
        seen.push(p);
        t.set(bytes.subarray(p, p + t.length));
      },
      close: async () => {},
    };
    const s = new ReadaheadSource(inner, { windowBytes: 512, windows: 8, ahead: 2 });
    await readBytes(s, 0, 100);
    await readBytes(s, 600, 100); // next window: a stream; windows 2 and 3 come ahead
    await new Promise((r) => setTimeout(r, 0));
    expect(seen.sort((a, b) => a - b)).toEqual([0, 512, 1024, 1536]);
    seen.length = 0;
    await readBytes(s, 1100, 100); // already fetched: no device read for it
    await readBytes(s, 8000, 10); // far away: one window, nothing ahead
    await new Promise((r) => setTimeout(r, 0));
    expect(seen.filter((p) => p >= 7680)).toEqual([7680]);
  });

  it("loads new windows into evicted windows' buffers, never one a view or a waiting read still uses", async () => {
    // Bytes that differ between windows (the suite's pattern repeats every 256 bytes).
    const bytes = Uint8Array.from({ length: 10000 }, (_, i) => Math.imul(i + 1, 2654435761) >>> 24);
    const targets: ArrayBufferLike[] = [];
    let gate: Promise<void> = Promise.resolve();
    const inner: BlockSource = {
      name: "gated",
      size: bytes.length,
      read: async (t, p) => {
        targets.push(t.buffer);
        await gate;
        t.set(bytes.subarray(p, p + t.length));
      },
      close: async () => {},
    };
    const s = new ReadaheadSource(inner, { windowBytes: 512, windows: 2, ahead: 0 });
    const view = await readView(s, 10, 20);
    for (let pos = 1024; pos < 9000; pos += 1024) expect(await readBytes(s, pos, 100)).toEqual(bytes.subarray(pos, pos + 100));
    expect(view).toEqual(bytes.subarray(10, 30));
    expect(targets.filter((b) => b === view.buffer)).toHaveLength(1);
    expect(new Set(targets).size).toBeLessThan(targets.length);

    // A read across a loading window (4608) and a loaded one (5120) copies from the loaded
    // one last; windows loaded meanwhile evict 5120, and must not load into its buffer.
    await readBytes(s, 5200, 10);
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const across = readBytes(s, 5000, 300);
    const others = [7000, 8000, 9000].map((pos) => readBytes(s, pos, 10));
    open();
    expect(await across).toEqual(bytes.subarray(5000, 5300));
    for (const [i, pos] of [7000, 8000, 9000].entries()) expect(await others[i]).toEqual(bytes.subarray(pos, pos + 10));
  });

  it("with a buffer pool: closing gives reusable window buffers back, and the next source loads into them", async () => {
    const bytes = Uint8Array.from({ length: 8192 }, (_, i) => Math.imul(i + 7, 2654435761) >>> 24);
    const targets: ArrayBufferLike[] = [];
    const inner: BlockSource = {
      name: "recording",
      size: bytes.length,
      read: async (t, p) => {
        targets.push(t.buffer);
        t.set(bytes.subarray(p, p + t.length));
      },
      close: async () => {},
    };
    const pool = new BufferPool({ maxShift: 16, retainedBytes: 64 << 10 });
    const first = new ReadaheadSource(inner, { windowBytes: 4096, windows: 2, ahead: 0, buffers: pool });
    const view = await readView(first, 10, 20); // window 0: a view is out, never reused
    expect(await readBytes(first, 5000, 100)).toEqual(bytes.subarray(5000, 5100)); // window 4096
    await first.close();
    expect(view).toEqual(bytes.subarray(10, 30));
    expect(pool.retainedBytes).toBe(4096);
    const [viewed, plain] = targets;

    targets.length = 0;
    const second = new ReadaheadSource(inner, { windowBytes: 4096, windows: 2, ahead: 0, buffers: pool });
    expect(await readBytes(second, 100, 50)).toEqual(bytes.subarray(100, 150));
    expect(await readBytes(second, 4200, 50)).toEqual(bytes.subarray(4200, 4250));
    expect(targets[0]).toBe(plain);
    expect(targets).not.toContain(viewed);
    expect(pool.retainedBytes).toBe(0);
    second.release();
    expect(pool.retainedBytes).toBe(8192);
    await second.close();
  });

  it("rejects windows that are not powers of two or too many", () => {
    expect(() => new ReadaheadSource(new MemorySource(bytes), { windowBytes: 1000 })).toThrow(/power of two/);
    expect(() => new ReadaheadSource(new MemorySource(bytes), { windows: 1000 })).toThrow(/window count/);
  });
});
