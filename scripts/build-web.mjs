#!/usr/bin/env node
// Bundles the page (web/src) with esbuild into web/dist, with the static files of web/public and xterm's CSS.
// `buildWeb()` skips the work when the bundle is newer than every input; `node scripts/build-web.mjs` forces it.
import { build } from "esbuild";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const webDist = path.join(root, "web", "dist");
const stamp = path.join(webDist, ".built");
const entries = { app: "web/src/main.ts", instructor: "web/src/instructor.ts" };
const inputs = [
  "web/src",
  "web/public",
  "server/src/realtime/protocol.ts",
  "server/src/instructor/wire.ts",
  "scripts/build-web.mjs",
];

function newest(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

/** True when web/dist is missing or older than any input. */
export function webIsStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return inputs.some((i) => newest(path.join(root, i)) > built);
}

/** Moves every file under `from` into the same place under `to`, one atomic rename each. */
function moveInto(from, to) {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    if (e.isDirectory()) moveInto(src, path.join(to, e.name));
    else renameSync(src, path.join(to, e.name));
  }
}

/**
 * Builds web/dist if stale (or always, with `force`); resolves to true when it built. Builds into a scratch directory
 * and moves each file into place, so servers starting side by side (tests) never serve a half-written bundle.
 */
export async function buildWeb({ force = false } = {}) {
  if (!force && !webIsStale()) return false;
  const scratch = mkdtempSync(path.join(root, "web", ".dist-"));
  try {
    await build({
      absWorkingDir: root,
      entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, path.join(root, v)])),
      outdir: path.join(scratch, "assets"),
      bundle: true,
      format: "esm",
      target: ["es2022"],
      minify: true,
      sourcemap: true,
      legalComments: "none",
      logLevel: "warning",
    });
    for (const f of readdirSync(path.join(root, "web", "public")))
      copyFileSync(path.join(root, "web", "public", f), path.join(scratch, f));
    writeFileSync(path.join(scratch, ".built"), new Date().toISOString() + "\n");
    moveInto(scratch, webDist);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  await buildWeb({ force: true });
  process.stdout.write(`web built in ${Date.now() - t0} ms: ${path.relative(process.cwd(), webDist)}\n`);
}
