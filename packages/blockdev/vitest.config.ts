import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "blockdev", testTimeout: 120_000, hookTimeout: 300_000 } });
