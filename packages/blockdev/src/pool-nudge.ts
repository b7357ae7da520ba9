/**
 * Keeps libuv's thread pool from sleeping on a queued read.
 *
 * glibc before 2.41 (Debian 12 has 2.36) can lose a pthread_cond_signal (sourceware BZ
 * 25847). libuv wakes a pool worker that way for each request it queues, so a lost one
 * leaves the request in the queue with every worker asleep until the next request wakes
 * one, which then drains the queue. A reader waiting on that one read sends no next
 * request: a FUSE reader of a single file would block for ever. This project's tests
 * met the state once (an fs request queued, four idle workers, seen with gdb).
 *
 * So while a read (or any request a FileSource makes: open, stat, close) is outstanding
 * longer than a disk read should take, one cheap request more is queued every so often:
 * its wakeup, if it gets through, drains the queue. A read that is merely slow costs an
 * extra stat(2) a second.
 */

interface Timer {
  unref?(): void;
}

export interface PoolNudgeClock {
  now(): number;
  setInterval(run: () => void, ms: number): Timer;
  clearInterval(timer: Timer): void;
}

/** How long a read may be outstanding before the pool is nudged, and how often after that. */
export const NUDGE_AFTER_MS = 1000;

export class PoolNudger {
  /** Start times of the requests outstanding, by token. */
  readonly #started = new Map<number, number>();
  #nextToken = 0;
  #timer: Timer | undefined;
  readonly #nudge: () => void;
  readonly #clock: PoolNudgeClock;

  constructor(nudge: () => void, clock: PoolNudgeClock) {
    this.#nudge = nudge;
    this.#clock = clock;
  }

  /** A request (a read) was queued: returns the token to end it with. */
  begin(): number {
    const token = this.#nextToken++;
    this.#started.set(token, this.#clock.now());
    if (!this.#timer) {
      this.#timer = this.#clock.setInterval(() => this.#check(), NUDGE_AFTER_MS);
      // A pending check is no reason for the process to stay alive; a queued request is.
      this.#timer.unref?.();
    }
    return token;
  }

  /** Tracks a thread-pool request given as a promise; the same promise's outcome, once it settles. */
  async track<T>(request: Promise<T>): Promise<T> {
    const token = this.begin();
    try {
      return await request;
    } finally {
      this.end(token);
    }
  }

  end(token: number): void {
    // The timer stays until a check finds nothing outstanding: a reader issuing one read at
    // a time would otherwise start and stop a timer per read.
    this.#started.delete(token);
  }

  #check(): void {
    // Map order is insertion order: the first entry is the oldest request outstanding.
    const oldest = this.#started.values().next();
    if (oldest.done) {
      this.#clock.clearInterval(this.#timer!);
      this.#timer = undefined;
    } else if (this.#clock.now() - oldest.value >= NUDGE_AFTER_MS) {
      this.#nudge();
    }
  }
}
