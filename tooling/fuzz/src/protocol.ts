import type { FuzzTarget } from "./targets.js";
import type { Injection, Violation, WalkOptions, WalkResult } from "./walk.js";

/** What a worker is started with. */
export interface WorkerInit {
  readonly targets: readonly FuzzTarget[];
  readonly slot: SharedArrayBuffer;
  readonly walk: WalkOptions;
  /** Largest single typed-array allocation allowed (bytes). */
  readonly allocCap: number;
}

export interface RunRequest {
  readonly seed: number;
  /** Write the mutant here (for the CLI check) and say how to mount it. */
  readonly writeTo?: string | undefined;
  readonly inject?: Injection | undefined;
  /** Mount the unmutated image (the baseline check). */
  readonly pristine?: boolean | undefined;
}

export interface RunResult extends WalkResult {
  readonly seed: number;
  readonly target: string;
  readonly mutation: readonly string[];
  readonly ms: number;
  /** Where the mutant was written, with its extra devices and fsoffset. */
  readonly written?: { readonly image: string; readonly devices: readonly string[]; readonly fsoffset: number } | undefined;
}

export type WorkerMessage = { type: "result"; result: RunResult } | { type: "ready" };

export type { Violation };
