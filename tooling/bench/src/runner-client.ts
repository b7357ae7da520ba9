import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { JobName, JobReply, JobRequest, Jobs } from "./runner.js";

/**
 * The bench's side of runner.ts: one child process, started once before any workload
 * (while this process is small), that runs every timed workload on request.
 */
export class Runner {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 0;

  constructor() {
    this.#child = fork(fileURLToPath(new URL("./runner.js", import.meta.url)), { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.#child.on("message", (m: JobReply) => {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if ("error" in m) w?.reject(new Error(m.error));
      else w?.resolve(m.result);
    });
    this.#child.on("exit", (code) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`bench runner exited (${code})`));
      this.#waiting.clear();
    });
  }

  /** The runner's process id (to pin where its reads run: fuse.ts's placementSuite). */
  get pid(): number {
    return this.#child.pid!;
  }

  run<K extends JobName>(name: K, args: Jobs[K]["args"]): Promise<Jobs[K]["result"]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, name, args } satisfies JobRequest);
    });
  }

  close(): void {
    this.#child.disconnect();
  }
}
