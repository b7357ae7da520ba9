/** Bad command line: exit status 2 with a usage hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A filesystem error already reported to stderr by a command that went on: exit status 1. */
export class ReportedFailure extends Error {
  constructor(readonly count: number) {
    super(`${count} error(s)`);
  }
}
