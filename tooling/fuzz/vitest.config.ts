import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "fuzz", testTimeout: 300_000, hookTimeout: 300_000 } });
