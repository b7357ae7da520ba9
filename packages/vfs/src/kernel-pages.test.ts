import { describe, expect, it } from "vitest";
import { KernelPages } from "./kernel-pages.js";

describe("KernelPages", () => {
  it("holds the pages added and no others, across chunks and far apart", () => {
    const pages = new KernelPages();
    pages.add(4090, 4100);
    pages.add(2 ** 40, 2 ** 40 + 1);
    for (let p = 4080; p < 4110; p++) expect(pages.has(p), `page ${p}`).toBe(p >= 4090 && p < 4100);
    expect([pages.has(2 ** 40 - 1), pages.has(2 ** 40), pages.has(2 ** 40 + 1)]).toEqual([false, true, false]);
    expect(pages.has(0)).toBe(false);
  });
});
