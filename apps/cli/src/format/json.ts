/** JSON with bigints written as exact integers (inode numbers and nanosecond times exceed 2^53). */
export function toJson(value: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(
    value,
    (_k, v) => {
      if (typeof v === "bigint") {
        marks.push(v.toString());
        return `\u0000big${marks.length - 1}\u0000`;
      }
      return v;
    },
    2,
  );
  return text.replace(/"\\u0000big(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}

/**
 * A JSON array written an element at a time, laid out exactly as toJson lays out the
 * whole array: a listing of any length is printed as it is read, never held.
 */
export class JsonArrayWriter {
  #count = 0;
  constructor(private readonly write: (text: string) => Promise<void>) {}

  async add(value: unknown): Promise<void> {
    // toJson indents by two: an element sits one level in, so each of its lines moves two more.
    await this.write(`${this.#count++ === 0 ? "[\n" : ",\n"}  ${toJson(value).replace(/\n/g, "\n  ")}`);
  }

  /** Closes the array (and the line). */
  async end(): Promise<void> {
    await this.write(this.#count === 0 ? "[]\n" : "\n]\n");
  }
}
