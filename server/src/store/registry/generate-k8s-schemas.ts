/**
 * Generates `k8s-schemas.json`: the OpenAPI v3 definitions of the Kubernetes kinds the simulator serves, derived from
 * the models of `@kubernetes/client-node` (field names, types, required fields, descriptions). Run with
 * `npx tsx server/src/store/registry/generate-k8s-schemas.ts` after upgrading client-node.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface Attr {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

const roots = [
  "V1Namespace",
  "V1Node",
  "V1Pod",
  "V1Service",
  "V1Endpoints",
  "V1EndpointSlice",
  "V1Deployment",
  "V1ReplicaSet",
  "V1DaemonSet",
  "V1ServiceAccount",
  "V1ConfigMap",
  "V1Secret",
  "CoreV1Event",
  "EventsV1Event",
  "V1NetworkPolicy",
  "V1Ingress",
  "V1PodDisruptionBudget",
  "V1PersistentVolumeClaim",
  "V1Scale",
  "V1Role",
  "V1ClusterRole",
  "V1RoleBinding",
  "V1ClusterRoleBinding",
  "AuthenticationV1TokenRequest",
];

const require = createRequire(import.meta.url);
const pkgDir = path.dirname(require.resolve("@kubernetes/client-node/package.json"));
const modelsDir = path.join(pkgDir, "dist", "gen", "models");

function descriptions(model: string): { cls: string; fields: Record<string, string> } {
  const text = readFileSync(path.join(modelsDir, `${model}.d.ts`), "utf8");
  const clean = (s: string) =>
    s
      .split("\n")
      .map((l) => l.replace(/^\s*\*\s?/, "").trim())
      .join(" ")
      .replace(/\\(["'])/g, "$1")
      .trim();
  const clsMatch = /\/\*\*\n\*([^]*?)\*\/\nexport declare class/.exec(text);
  const fields: Record<string, string> = {};
  for (const m of text.matchAll(/\/\*\*\n((?:(?!\/\*\*)[^])*?)\*\/\n\s*'([^']+)'\??:/g))
    fields[m[2]!] = clean(m[1]!);
  return { cls: clsMatch ? clean(clsMatch[1]!) : "", fields };
}

const defs: Record<string, Record<string, unknown>> = {};

async function typeSchema(t: string, format: string): Promise<Record<string, unknown>> {
  if (t === "string") return { type: "string", ...(format ? { format } : {}) };
  if (t === "Date" || t === "V1MicroTime")
    return { type: "string", format: t === "Date" ? "date-time" : "date-time-micro" };
  if (t === "boolean") return { type: "boolean" };
  if (t === "number")
    return format === "double" ? { type: "number", format } : { type: "integer", format: format || "int32" };
  if (t === "IntOrString") return { "x-kubernetes-int-or-string": true };
  if (t === "any" || t === "object") return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const arr = /^Array<(.+)>$/.exec(t);
  if (arr) return { type: "array", items: await typeSchema(arr[1]!, "") };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(t);
  if (map) return { type: "object", additionalProperties: await typeSchema(map[1]!, "") };
  await define(t);
  return { $ref: t };
}

async function define(model: string): Promise<void> {
  if (defs[model]) return;
  defs[model] = {};
  const mod = (await import(path.join(modelsDir, `${model}.js`))) as Record<
    string,
    { attributeTypeMap: Attr[] }
  >;
  const cls = mod[model];
  if (!cls) throw new Error(`no model ${model}`);
  const d = descriptions(model);
  const dts = readFileSync(path.join(modelsDir, `${model}.d.ts`), "utf8");
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const a of cls.attributeTypeMap) {
    const s = await typeSchema(a.type, a.format);
    const desc = d.fields[a.name];
    properties[a.baseName] = desc ? { ...s, description: desc } : s;
    if (new RegExp(`'${a.name}': `).test(dts)) required.push(a.baseName);
  }
  defs[model] = {
    type: "object",
    ...(d.cls ? { description: d.cls } : {}),
    properties,
    ...(required.length ? { required } : {}),
  };
}

for (const r of roots) await define(r);
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "k8s-schemas.json");
writeFileSync(out, JSON.stringify(defs) + "\n");
process.stdout.write(`wrote ${Object.keys(defs).length} definitions to ${out}\n`);
