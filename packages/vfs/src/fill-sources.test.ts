import { describe, expect, it } from "vitest";
import { FillSources } from "./fill-sources.js";

describe("FillSources", () => {
  it("gives back each page's extent start, NaN for pages never set, across chunks and far apart", () => {
    const sources = new FillSources();
    sources.set(4095, 0);
    sources.set(4096, 12345);
    sources.set(2 ** 40, 2 ** 50);
    expect([sources.get(4095), sources.get(4096), sources.get(2 ** 40)]).toEqual([0, 12345, 2 ** 50]);
    for (const page of [0, 4094, 4097, 2 ** 40 - 1, 2 ** 40 + 1]) expect(sources.get(page), `page ${page}`).toBeNaN();
    sources.set(4096, 7);
    expect(sources.get(4096)).toBe(7);
  });
});
