/**
 * The container image definition (deploy/Dockerfile), read as Docker reads it (instructions, line continuations,
 * stages), since there is no Docker engine here to build it: a multi-stage build whose final stage runs as a non-root
 * uid, has a health check on the server's liveness endpoint, carries no devDependencies and no compilers, installs
 * bubblewrap and socat for the sandbox, and copies only files that exist; its port agrees with the Helm chart's.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";

const root = path.join(import.meta.dirname, "..", "..");
const dockerfile = readFileSync(path.join(root, "deploy", "Dockerfile"), "utf8");

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  steps: Instruction[];
}

/** Docker's reading: comments and blank lines dropped, `\` continues a line, one instruction per logical line. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let cur = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (!cur && (line.trim() === "" || line.trim().startsWith("#"))) continue;
    if (line.trim().startsWith("#")) continue;
    if (line.endsWith("\\")) {
      cur += line.slice(0, -1) + " ";
      continue;
    }
    cur += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(cur);
    if (!m) throw new Error(`cannot read: ${cur}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, " ").trim() });
    cur = "";
  }
  return out;
}

function stages(list: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const i of list) {
    if (i.op === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      out.push({ from: m![1]!, ...(m![2] ? { name: m![2] } : {}), steps: [] });
    } else out.at(-1)?.steps.push(i);
  }
  return out;
}

const all = instructions(dockerfile);
const built = stages(all);
const final = built.at(-1)!;
const runs = (s: Stage) => s.steps.filter((i) => i.op === "RUN").map((i) => i.args);
const stageNamed = (name: string) => built.find((s) => s.name === name);

describe("deploy/Dockerfile", () => {
  it("is multi-stage, and every stage it copies from exists", () => {
    expect(built.length).toBeGreaterThanOrEqual(3);
    for (const s of built)
      for (const c of s.steps.filter((i) => i.op === "COPY" && i.args.includes("--from="))) {
        const from = /--from=(\S+)/.exec(c.args)![1]!;
        expect(stageNamed(from), c.args).toBeDefined();
      }
  });

  it("runs the final stage as a non-root uid, set after the last RUN", () => {
    const users = final.steps.filter((i) => i.op === "USER");
    expect(users).toHaveLength(1);
    const uid = Number(users[0]!.args.split(":")[0]);
    // Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    expect(Number.isInteger(uid)).toBe(true);
    expect(uid).toBeGreaterThan(0);
    expect(final.steps.findIndex((i) => i.op === "USER")).toBeGreaterThan(
      final.steps.findLastIndex((i) => i.op === "RUN"),
    );
    const chart = parse(
      readFileSync(path.join(root, "deploy", "helm", "egresslab", "values.yaml"), "utf8"),
    ) as {
      podSecurityContext: { runAsUser: number };
    };
    expect(chart.podSecurityContext.runAsUser).toBe(uid);
  });

  it("has a health check on /livez at the port it exposes, which is the chart's container port", () => {
    const hc = final.steps.find((i) => i.op === "HEALTHCHECK");
    expect(hc?.args).toContain("/livez");
    const exposed = final.steps.find((i) => i.op === "EXPOSE")!.args;
    expect(exposed).toBe("3000");
    const env = final.steps
      .filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    expect(env).toContain(`EGRESSLAB_PORT=${exposed}`);
    expect(env).toContain("EGRESSLAB_HOST=0.0.0.0");
    const deployment = readFileSync(
      path.join(root, "deploy", "helm", "egresslab", "templates", "deployment.yaml"),
      "utf8",
    );
    expect(deployment).toContain(`containerPort: ${exposed}`);
  });

  it("carries production dependencies only, and no compilers", () => {
    expect(runs(final).join(" ")).not.toMatch(/\bnpm (ci|install|i)\b/);
    const copies = final.steps.filter((i) => i.op === "COPY" && /node_modules/.test(i.args));
    expect(copies).toHaveLength(1);
    const source = stageNamed(/--from=(\S+)/.exec(copies[0]!.args)![1]!)!;
    const installs = runs(source).filter((r) => /\bnpm (ci|install|i)\b/.test(r) && !/ -g /.test(r));
    expect(installs.length).toBeGreaterThan(0);
    for (const r of installs) expect(r).toContain("--omit=dev");
    expect(final.from).toMatch(/-slim$/);
    expect(runs(final).join(" ")).not.toMatch(/\b(build-essential|g\+\+|gcc|make|python3)\b/);
  });

  it("installs bubblewrap and socat for the learners' sandbox, and kubectl for their shell", () => {
    const apt = runs(final).join(" ");
    expect(apt).toMatch(/apt-get install[^&]*\bbubblewrap\b/);
    expect(apt).toMatch(/apt-get install[^&]*\bsocat\b/);
    expect(final.steps.some((i) => i.op === "COPY" && /kubectl/.test(i.args))).toBe(true);
    // Debian's bwrap is not setuid: with no privilege escalation in the pod, a setuid bit would not help anyway.
    expect(apt).not.toMatch(/chmod [ug]?\+s|chmod 4755/);
  });

  it("copies only files that exist in the repository, and runs the real entry point", () => {
    for (const s of built)
      for (const c of s.steps.filter((i) => i.op === "COPY" && !i.args.includes("--from="))) {
        const parts = c.args.split(" ").filter((p) => !p.startsWith("--"));
        for (const src of parts.slice(0, -1)) expect(existsSync(path.join(root, src)), src).toBe(true);
      }
    const entry = final.steps.find((i) => i.op === "ENTRYPOINT")!.args;
    const argv = JSON.parse(entry) as string[];
    expect(argv).toContain("scripts/egresslab.mjs");
    expect(existsSync(path.join(root, "scripts", "egresslab.mjs"))).toBe(true);
  });

  it("leaves node_modules and the data directory out of the build context", () => {
    const ignore = readFileSync(path.join(root, "deploy", "Dockerfile.dockerignore"), "utf8");
    expect(ignore).toMatch(/^\*\*\/node_modules$/m);
    expect(ignore).toMatch(/^\.egresslab$/m);
    expect(ignore).toMatch(/^\.git$/m);
  });
});
