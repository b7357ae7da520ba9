import { defineConfig } from "tsup";

// The vfs walk is an entry of its own: each seed walks the image in a child process, so a
// hang or a crash there costs one seed, and every seed loads the vfs's current dist/.
export default defineConfig({ entry: ["src/main.ts", "src/vfs-walk-cli.ts"], format: ["esm"], sourcemap: true, clean: true });
