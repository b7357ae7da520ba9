/**
 * Undo actions (umount, losetup -d, removing a work directory) that must run even when
 * the sweep is interrupted. Each is registered while its resource is held and released by
 * the finally block that normally runs it. With a handler installed, SIGINT/SIGTERM no
 * longer end the process at once, in the middle of a mount: Node acts on them when its
 * event loop next turns (main.ts yields between seeds), and the handler then runs whatever
 * is still held, newest first, and exits. A mount or loop device left behind outlives the
 * process, so this is not left to chance.
 */
const pending = new Map<number, () => void>();
let nextId = 0;
let installed = false;

/** Registers `undo`; returns a function that runs it once and deregisters it. */
export function hold(undo: () => void): () => void {
  install();
  const id = nextId++;
  pending.set(id, undo);
  return () => {
    if (!pending.delete(id)) return;
    undo();
  };
}

/** Runs every held undo action, newest first (the process is going away). */
export function releaseAll(): void {
  for (const id of [...pending.keys()].reverse()) {
    const undo = pending.get(id)!;
    pending.delete(id);
    try {
      undo();
    } catch (e) {
      console.error(`erofs-kdiff: cleanup: ${String(e)}`);
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      console.error(`erofs-kdiff: ${signal}: unmounting and cleaning up`);
      releaseAll();
      process.exit(130);
    });
  }
}
