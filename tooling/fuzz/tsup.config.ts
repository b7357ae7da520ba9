import { defineConfig } from "tsup";

// The worker is its own entry: worker threads load it by path from dist/.
export default defineConfig({ entry: ["src/main.ts", "src/worker.ts"], format: ["esm"], sourcemap: true, clean: true });
