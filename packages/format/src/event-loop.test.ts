import { describe, expect, it } from "vitest";
import { holdingEventLoop } from "./event-loop.js";

// This package is typed without Node; the test runs in Node and asks its event loop.
const host = globalThis as unknown as { process: { getActiveResourcesInfo(): string[] } };
const pendingTimers = () => host.process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("holdingEventLoop", () => {
  it("keeps a timer on the event loop while the promise is pending, and lets it go once it resolves", async () => {
    const before = pendingTimers();
    const d = deferred<number>();
    const held = holdingEventLoop(d.promise);
    expect(pendingTimers()).toBe(before + 1);
    d.resolve(7);
    expect(await held).toBe(7);
    expect(pendingTimers()).toBe(before);
  });

  it("lets the timer go on a rejection too, and the caller still sees the rejection", async () => {
    const before = pendingTimers();
    const d = deferred<number>();
    const held = holdingEventLoop(d.promise);
    expect(pendingTimers()).toBe(before + 1);
    d.reject(new Error("no WebAssembly"));
    await expect(held).rejects.toThrow("no WebAssembly");
    expect(pendingTimers()).toBe(before);
  });
});
