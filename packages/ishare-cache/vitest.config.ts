import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "ishare-cache", testTimeout: 120_000, hookTimeout: 300_000 } });
