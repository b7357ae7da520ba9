import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "fuse", testTimeout: 120_000, hookTimeout: 300_000 } });
