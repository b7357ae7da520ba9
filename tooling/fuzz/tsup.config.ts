import { defineConfig } from "tsup";

// The worker and the FUSE walker are entries of their own: worker threads and child
// processes load them by path from dist/.
export default defineConfig({ entry: ["src/main.ts", "src/worker.ts", "src/fuse-walker.ts"], format: ["esm"], sourcemap: true, clean: true });
