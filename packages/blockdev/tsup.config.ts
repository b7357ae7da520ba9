import { defineConfig } from "tsup";

export default defineConfig({ entry: ["src/index.ts", "src/core.ts"], format: ["esm"], dts: true, sourcemap: true, clean: true });
