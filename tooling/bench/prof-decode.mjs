import { mount } from "@erofs-ts/vfs";
import { execSync } from "node:child_process";
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
const profPass = process.env.PROF_PASS === undefined ? -1 : Number(process.env.PROF_PASS);
const session = new Session(); session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 100 });
const image = process.argv[2];
const INTO = new Uint8Array(1 << 20);
const passes = Number(process.argv[3] ?? 1);
const cache = process.argv[4] !== "nocache";
for (let p = 0; p < passes; p++) {
  if (!process.env.WARM) execSync("sync; echo 3 > /proc/sys/vm/drop_caches");
  if (p === profPass) await session.post("Profiler.start");
  const t0 = performance.now();
  const fs = await mount(image, { cacheBytes: 256 << 20 });
  const files = [];
  const seen = new Set();
  const walk = async (dir) => {
    for (const e of await fs.readdir(dir)) {
      if (seen.has(e.nid)) continue; seen.add(e.nid);
      const inode = await fs.iget(e.nid);
      if (inode.kind === "dir") await walk(inode); else if (inode.kind === "file") files.push(inode);
    }
  };
  await walk(await fs.root());
  let total = 0;
  for (const f of files) for (let pos = 0; pos < f.size;) { const b = await fs.read(f, pos, Math.min(1 << 20, f.size - pos), process.env.INTO ? { cache, into: INTO } : { cache }); if (!b.length) break; pos += b.length; total += b.length; }
  await fs.unmount();
  if (p === profPass) { const { profile } = await session.post("Profiler.stop"); writeFileSync(`/tmp/prof/pass${p}.cpuprofile`, JSON.stringify(profile)); }
  const s = (performance.now() - t0) / 1000;
  console.log(`pass ${p}: ${files.length} files ${(total / 1e6 / s).toFixed(1)} MB/s`);
}
