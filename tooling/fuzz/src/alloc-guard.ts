/**
 * Catches allocations larger than any checked on-disk value allows. Inside a fuzz worker
 * the global typed-array constructors are replaced by proxies that refuse (and record) a
 * length above `capBytes`: the code under test looks its constructors up at call time, so
 * every `new Uint8Array(n)` in the vfs, format, decompress (and their dependencies) goes
 * through the check. A proxy returns ordinary instances, so nothing else changes: no
 * subclass, no species lookups, `instanceof` still holds.
 *
 * The refusal is recorded as well as thrown, because code under test may catch the
 * RangeError and turn it into a typed error (a codec's catch-all does): the record is what
 * the walk checks after each operation.
 */

/** The real constructor, for the fuzzer's own large buffers (image copies). */
export const RealUint8Array = Uint8Array;

export interface AllocationTrip {
  readonly type: string;
  readonly bytes: number;
  readonly stack: string;
}

const trips: AllocationTrip[] = [];
let installed = false;

export function installAllocGuard(capBytes: number): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of ["Uint8Array", "Uint16Array", "Uint32Array", "Int32Array", "Float64Array", "ArrayBuffer"] as const) {
    const ctor = g[name] as { BYTES_PER_ELEMENT?: number } & (new (...a: unknown[]) => object);
    const per = ctor.BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(ctor, {
      construct(target, args) {
        const n = args[0];
        if (typeof n === "number" && n * per > capBytes) {
          trips.push({ type: name, bytes: n * per, stack: new Error().stack ?? "" });
          throw new RangeError(`fuzz allocation guard: ${name} of ${n * per} bytes exceeds ${capBytes}`);
        }
        return Reflect.construct(target, args);
      },
    });
  }
}

/** Allocations refused since the last call (and forgets them). */
export function takeTrips(): AllocationTrip[] {
  return trips.splice(0, trips.length);
}
