import { describe, expect, it } from "vitest";
import { NUDGE_AFTER_MS, PoolNudger, type PoolNudgeClock } from "./pool-nudge.js";

/** A clock moved by hand, running its one interval timer as time passes. */
class HandClock implements PoolNudgeClock {
  time = 0;
  timer: { run: () => void; every: number; next: number; unrefed: boolean } | undefined;
  now(): number {
    return this.time;
  }
  setInterval(run: () => void, every: number) {
    if (this.timer) throw new Error("a second timer while one runs");
    const timer = { run, every, next: this.time + every, unrefed: false };
    this.timer = timer;
    return { unref: () => void (timer.unrefed = true) };
  }
  clearInterval(): void {
    this.timer = undefined;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    while (this.timer && this.timer.next <= end) {
      this.time = this.timer.next;
      this.timer.next += this.timer.every;
      this.timer.run();
    }
    this.time = end;
  }
}

/** A nudger on a hand clock, counting its nudges. */
function setUp() {
  const clock = new HandClock();
  const nudges = { count: 0 };
  const nudger = new PoolNudger(() => nudges.count++, clock);
  return { clock, nudger, nudges };
}

describe("PoolNudger", () => {
  it("queues nothing while reads finish in time, and stops its timer at the first check with none outstanding", () => {
    const { clock, nudger, nudges } = setUp();
    for (let i = 0; i < 50; i++) {
      const token = nudger.begin();
      clock.advance(NUDGE_AFTER_MS / 4);
      nudger.end(token);
    }
    expect(nudges.count).toBe(0);
    // One timer all along, not one per read; gone once a check finds nothing outstanding.
    expect(clock.timer).toBeDefined();
    clock.advance(NUDGE_AFTER_MS);
    expect(clock.timer).toBeUndefined();
  });

  it("nudges every interval while one read stays outstanding, whatever else completes", () => {
    const { clock, nudger, nudges } = setUp();
    const stuck = nudger.begin();
    expect(clock.timer?.unrefed).toBe(true);
    // Reads that come and go meanwhile neither hide the stuck one nor stop the timer.
    for (let i = 0; i < 10; i++) nudger.end(nudger.begin());
    clock.advance(NUDGE_AFTER_MS - 1);
    expect(nudges.count).toBe(0);
    clock.advance(3 * NUDGE_AFTER_MS);
    expect(nudges.count).toBe(3);
    nudger.end(stuck);
    clock.advance(5 * NUDGE_AFTER_MS);
    expect(nudges.count).toBe(3);
    expect(clock.timer).toBeUndefined();
  });

  it("does not nudge for a read started just before a check", () => {
    const { clock, nudger, nudges } = setUp();
    const first = nudger.begin();
    clock.advance(NUDGE_AFTER_MS / 2);
    const second = nudger.begin();
    nudger.end(first);
    // The timer fires at NUDGE_AFTER_MS: the read outstanding then is half that old.
    clock.advance(NUDGE_AFTER_MS / 2);
    expect(nudges.count).toBe(0);
    clock.advance(NUDGE_AFTER_MS);
    expect(nudges.count).toBe(1);
    nudger.end(second);
  });

  it("track passes a request's outcome through and counts it outstanding only until it settles", async () => {
    const { clock, nudger, nudges } = setUp();
    await expect(nudger.track(Promise.resolve(7))).resolves.toBe(7);
    await expect(nudger.track(Promise.reject(new Error("EIO")))).rejects.toThrow("EIO");
    clock.advance(NUDGE_AFTER_MS);
    expect([nudges.count, clock.timer]).toEqual([0, undefined]);
    let finish!: () => void;
    const pending = nudger.track(new Promise<void>((resolve) => (finish = resolve)));
    clock.advance(2 * NUDGE_AFTER_MS);
    expect(nudges.count).toBe(2);
    finish();
    await pending;
    clock.advance(NUDGE_AFTER_MS);
    expect([nudges.count, clock.timer]).toEqual([2, undefined]);
  });
});
