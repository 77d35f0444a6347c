/**
 * `npm run bench`: runs every benchmark in scripts/bench/ (or those named on the command line) one after another and
 * prints their figures. Benchmarks print medians and ratios; nothing here asserts a time.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "bench");
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.startsWith("_"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

for (const f of files) {
  process.stdout.write(`\n## ${f.replace(/\.ts$/, "")}\n`);
  const mod = (await import(path.join(dir, f))) as { run?: () => Promise<void> };
  if (typeof mod.run !== "function") throw new Error(`${f} must export run()`);
  await mod.run();
}
