import { afterAll, describe, expect, it, vi } from "vitest";
import { committedVectors, firstDiff } from "./codec.test-helper.js";
import { decodeZstd, zstdReady } from "./index.js";

// About the WebAssembly builds: node:zlib's zstd (zstd-native.ts, Node 22.15+) is hidden, as in Node 20.
vi.mock("./zstd-native.js", () => ({ hasNativeZstd: () => false, decodeZstdNative: () => false }));

const pendingTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

// A file of its own: zstddec instantiates once per module registry, and vitest gives each
// test file a fresh one, so the load below is the first in it.
describe("loading the zstd WebAssembly decoder", () => {
  const original = Object.getOwnPropertyDescriptor(globalThis, "fetch");
  const calls: unknown[] = [];
  const spy = (...args: unknown[]) => {
    calls.push(args[0]);
    return Promise.reject(new Error("fetch is not for this"));
  };
  Object.defineProperty(globalThis, "fetch", { value: spy, configurable: true, writable: true });
  afterAll(() => {
    if (original) Object.defineProperty(globalThis, "fetch", original);
    else delete (globalThis as { fetch?: unknown }).fetch;
  });

  it("instantiates from bytes, never through fetch (which would load Node's HTTP client), and puts fetch back", async () => {
    const before = pendingTimers();
    const ready = zstdReady();
    // A timer holds the event loop while it loads: without one, a reader with nothing
    // else pending can hang in Node 20 (holdingEventLoop in @erofs-ts/format).
    expect(pendingTimers()).toBe(before + 1);
    expect(await ready).toBe(true);
    expect(pendingTimers()).toBe(before);
    expect(calls).toEqual([]);
    expect(globalThis.fetch).toBe(spy);
  });

  it("then decodes with it", () => {
    const v = committedVectors("zst").find((x) => !x.name.endsWith("-nosize"))!;
    const out = new Uint8Array(v.data.length);
    decodeZstd(v.encoded, out, false);
    expect(firstDiff(out, v.data)).toBe(-1);
  });
});
