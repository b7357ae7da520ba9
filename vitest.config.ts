import { defineConfig } from "vitest/config";

// One run over every workspace package; each package is its own project so that
// `pnpm --filter X test` and the root run see the same tests.
export default defineConfig({
  test: {
    projects: ["packages/*/vitest.config.ts", "apps/*/vitest.config.ts", "tooling/*/vitest.config.ts"],
    reporters: ["default", "./tooling/vitest-summary-reporter.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
