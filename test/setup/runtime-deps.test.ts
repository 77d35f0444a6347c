/**
 * `npm start` (and an install with `--omit=dev`) must not need a devDependency at run time: no module that serve runs
 * (server/src, the web page it bundles, scripts/build-web.mjs, the egresslab bin) imports one, except for types.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The packages a module imports at run time (static and dynamic imports; `import type` is erased). */
export function runtimeImports(source: string): string[] {
  const found = new Set<string>();
  const re =
    /(?:^|\n)\s*import\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of source.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? "";
    if (spec.startsWith(".") || spec.startsWith("node:") || spec.startsWith("/")) continue;
    const parts = spec.split("/");
    found.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
  }
  return [...found];
}

describe("run-time dependencies", () => {
  it("reads imports, skipping type-only ones", () => {
    expect(
      runtimeImports('import { a } from "esbuild";\nimport type { B } from "vitest";\nimport "@x/y/z";'),
    ).toEqual(["esbuild", "@x/y"]);
    expect(runtimeImports('const m = await import("playwright-core");')).toEqual(["playwright-core"]);
  });

  it("serve's modules import only dependencies, never a devDependency", () => {
    const files = execFileSync(
      "git",
      ["ls-files", "server/src", "web/src", "scripts/build-web.mjs", "scripts/egresslab.mjs"],
      {
        encoding: "utf8",
      },
    )
      .split("\n")
      .filter((f) => /\.(ts|mts|mjs|js)$/.test(f) && !/\.test\.ts$/.test(f));
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.flatMap((f) =>
      runtimeImports(readFileSync(f, "utf8"))
        .filter((p) => p in pkg.devDependencies)
        .map((p) => `${f}: ${p}`),
    );
    expect(offenders).toEqual([]);
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(["esbuild", "tsx"]));
  });
});
