import { describe, expect, it } from "vitest";
import { hasCommand } from "./commands.js";

describe("hasCommand", () => {
  it("finds a command on PATH, and a path to an executable, whatever --help exits with", () => {
    expect(hasCommand("sh")).toBe(true);
    // `false --help` exits 1: the command is there all the same.
    expect(hasCommand("false")).toBe(true);
    expect(hasCommand(process.execPath)).toBe(true);
  });

  it("says no for a name nothing answers to", () => {
    expect(hasCommand("erofs-ts-no-such-command")).toBe(false);
    expect(hasCommand("/nonexistent/bin/mkfs.erofs")).toBe(false);
  });
});
