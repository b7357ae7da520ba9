import { defineConfig } from "tsup";

export default defineConfig({ entry: ["src/main.ts", "src/runner.ts"], format: ["esm"], sourcemap: true, clean: true });
