import { defineConfig } from "tsup";

export default defineConfig({ entry: ["src/index.ts", "src/corpus-cli.ts", "src/manifest-cli.ts"], format: ["esm"], dts: true, sourcemap: true, clean: true });
