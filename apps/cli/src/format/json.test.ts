import { describe, expect, it } from "vitest";
import { JsonArrayWriter, toJson } from "./json.js";

async function written(values: unknown[]): Promise<string> {
  let text = "";
  const w = new JsonArrayWriter(async (t) => void (text += t));
  for (const v of values) await w.add(v);
  await w.end();
  return text;
}

describe("JsonArrayWriter", () => {
  it("writes element by element exactly what toJson writes for the whole array", async () => {
    const cases: unknown[][] = [
      [],
      [1],
      ["a\nb", null, true],
      [{ path: "x", ino: 2n ** 63n + 5n, nested: { list: [1, { deep: "y" }], empty: [] } }, { path: "z", mtime_ns: -1_500_000_000n }],
      [[], {}, [[1, 2], []]],
    ];
    for (const values of cases) expect(await written(values)).toBe(`${toJson(values)}\n`);
  });
});
