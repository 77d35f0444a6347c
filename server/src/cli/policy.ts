/**
 * `egresslab policy check`: decide one connection offline against YAML files (namespaces, pods, services, tiers,
 * policies of every kind, network sets), with the same engine the simulated cluster uses, and explain the verdict.
 * File reading lives here; the engine (`calico/`) is pure.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { LineCounter, parseAllDocuments, type Document } from "yaml";
import type { Command } from "./command.ts";
import { formatHelp, parseOptions } from "../config/options.ts";
import { ValidationError, type Problem } from "../shared/errors.ts";
import { PolicyEngine, validateCalicoObject, type SideVerdict, type Verdict } from "../calico/index.ts";
import type { KubeObject } from "../store/types.ts";

const specs = {
  file: {
    type: "list",
    short: "f",
    arg: "PATH",
    description: "YAML file or directory of objects (repeatable)",
  },
  from: { type: "string", arg: "SRC", description: "Source: namespace/pod or an IP" },
  to: {
    type: "string",
    arg: "DST",
    description: "Destination: namespace/pod, namespace/service, an IP, or a domain",
  },
  port: { type: "number", arg: "N", description: "Destination port (for a service: the service port)" },
  protocol: {
    type: "string",
    arg: "PROTO",
    choices: ["TCP", "UDP", "ICMP", "SCTP"],
    default: "TCP",
    description: "Protocol",
  },
  dns: { type: "list", arg: "NAME=IP[,IP…]", description: "A DNS answer from a trusted server (repeatable)" },
  edition: {
    type: "string",
    arg: "EDITION",
    choices: ["enterprise", "oss"],
    default: "enterprise",
    description: "Calico edition",
  },
  output: {
    type: "string",
    arg: "FORMAT",
    choices: ["text", "json"],
    default: "text",
    description: "Output format",
  },
  expect: {
    type: "string",
    choices: ["allow", "deny"],
    arg: "VERDICT",
    description: "Exit 1 unless the verdict is this",
  },
} as const;

const DESCRIPTION = [
  "Decides one connection with the simulator's Calico engine and explains which tier, policy and rule decided it.",
  "Pods need labels and (optionally) status.podIP; a namespace/service destination goes to one backend pod and its",
  "target port. Exit codes: 0 done, 1 verdict differs from --expect, 2 bad input (every problem listed).",
].join("\n");

const USAGE =
  "egresslab policy check -f PATH [-f PATH …] --from SRC --to DST [--port N] [--protocol P] [options]";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

interface Loaded {
  obj: KubeObject;
  file: string;
  index: number;
  doc: Document;
  lines: LineCounter;
}

/** Expands files and directories (recursively, `.yaml`/`.yml`/`.json`, sorted). */
function expandPaths(paths: string[], problems: Problem[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      problems.push({ where: p, message: "no such file or directory" });
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = path.join(p, name);
        if (statSync(child).isDirectory() || /\.(ya?ml|json)$/i.test(name)) walk(child);
      }
    } else out.push(p);
  };
  paths.forEach(walk);
  return out;
}

function pathSegments(where: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of where.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function lineOf(l: Loaded, where: string | undefined): number {
  const segs = where ? pathSegments(where) : [];
  for (let n = segs.length; n >= 0; n--) {
    const node = l.doc.getIn(segs.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return l.lines.linePos(node.range[0]).line;
  }
  return l.lines.linePos(l.doc.range?.[0] ?? 0).line;
}

/** Domain names are an Enterprise feature: Calico Open Source has no such fields. */
function ossProblems(obj: KubeObject): Problem[] {
  const out: Problem[] = [];
  const spec = isObj(obj.spec) ? obj.spec : {};
  if (Array.isArray(spec.allowedEgressDomains))
    out.push({
      where: "spec.allowedEgressDomains",
      message: "allowedEgressDomains is a Calico Enterprise feature (not in Calico Open Source)",
    });
  for (const dir of ["ingress", "egress"] as const)
    (Array.isArray(spec[dir]) ? spec[dir] : []).forEach((r: unknown, i: number) => {
      for (const side of ["source", "destination"] as const) {
        const e = isObj(r) && isObj(r[side]) ? r[side] : undefined;
        if (e && e.domains !== undefined)
          out.push({
            where: `spec.${dir}[${i}].${side}.domains`,
            message: "domains is a Calico Enterprise feature (not in Calico Open Source)",
          });
      }
    });
  return out;
}

/** Reads and validates every document; throws a ValidationError listing every problem with file, document and line. */
function loadObjects(files: string[], edition: "enterprise" | "oss"): Loaded[] {
  const problems: Problem[] = [];
  const loaded: Loaded[] = [];
  for (const file of expandPaths(files, problems)) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      problems.push({ where: file, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines });
    const list = Array.isArray(docs) ? docs : [];
    list.forEach((doc, index) => {
      const at = `${file} (document ${index + 1})`;
      if (doc.errors.length) {
        for (const err of doc.errors)
          problems.push({
            where: at,
            line: err.linePos?.[0]?.line ?? 0,
            message: err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
          });
        return;
      }
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) return;
      const items =
        isObj(value) && value.kind === "List" && Array.isArray(value.items) ? value.items : [value];
      for (const item of items) {
        const l = { obj: item as KubeObject, file, index, doc, lines };
        if (
          !isObj(item) ||
          typeof item.apiVersion !== "string" ||
          typeof item.kind !== "string" ||
          !isObj(item.metadata) ||
          typeof item.metadata.name !== "string"
        ) {
          problems.push({
            where: at,
            line: lineOf(l, undefined),
            message: "not a Kubernetes object (needs apiVersion, kind and metadata.name)",
          });
          continue;
        }
        const found = [
          ...validateCalicoObject(item, { edition }),
          ...(edition === "oss" ? ossProblems(item as KubeObject) : []),
        ];
        for (const p of found)
          problems.push({
            where: `${at} ${item.kind} ${item.metadata.name}: ${p.where ?? ""}`.trimEnd(),
            line: lineOf(l, p.where),
            message: p.message,
          });
        loaded.push(l);
      }
    });
  }
  if (problems.length) throw new ValidationError(problems);
  return loaded;
}

const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

/** One pod per workload (Deployment, StatefulSet, …) without pods of its own, named after it, from its template. */
function podsForWorkloads(objs: KubeObject[]): KubeObject[] {
  const pods = new Set(
    objs
      .filter((o) => o.kind === "Pod")
      .map((o) => `${o.metadata.namespace ?? "default"}/${o.metadata.name}`),
  );
  const out: KubeObject[] = [];
  for (const w of objs) {
    if (!WORKLOADS.has(w.kind) || (!w.apiVersion.startsWith("apps/") && !w.apiVersion.startsWith("batch/")))
      continue;
    const ns = w.metadata.namespace ?? "default";
    if (pods.has(`${ns}/${w.metadata.name}`)) continue;
    const spec = isObj(w.spec) ? w.spec : {};
    const template = isObj(spec.template) ? spec.template : {};
    const meta = isObj(template.metadata) ? template.metadata : {};
    out.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: w.metadata.name,
        namespace: ns,
        labels: isObj(meta.labels) ? (meta.labels as Record<string, string>) : {},
      },
      spec: isObj(template.spec) ? template.spec : {},
    });
  }
  return out;
}

/** Gives pods without an IP one from 192.168.0.0/16, as IPAM would, skipping addresses already used. */
function assignPodIps(objs: KubeObject[]): void {
  const used = new Set<string>();
  for (const o of objs)
    if (o.kind === "Pod" && isObj(o.status) && typeof o.status.podIP === "string") used.add(o.status.podIP);
  let next = 0x0a00; // 192.168.10.0 onwards
  for (const o of objs) {
    if (o.kind !== "Pod" || o.apiVersion !== "v1") continue;
    const status = isObj(o.status) ? o.status : {};
    if (typeof status.podIP === "string" && status.podIP) continue;
    let ip: string;
    do {
      ip = `192.168.${(next >> 8) & 255}.${next & 255}`;
      next++;
    } while (used.has(ip) || ip.endsWith(".0") || ip.endsWith(".255"));
    used.add(ip);
    o.status = { ...status, phase: status.phase ?? "Running", podIP: ip, podIPs: [{ ip }] };
  }
}

interface Target {
  ip: string;
  label: string;
  port?: number;
  note?: string;
}

const IP_RE = /^[0-9.]+$|:/;

function findObj(objs: KubeObject[], kind: string, ns: string, name: string): KubeObject | undefined {
  return objs.find(
    (o) =>
      o.kind === kind &&
      o.apiVersion === "v1" &&
      (o.metadata.namespace ?? "default") === ns &&
      o.metadata.name === name,
  );
}

function podIp(o: KubeObject): string {
  return String((o.status as Obj).podIP);
}

/** Resolves `namespace/service` to one backend pod and its target port (DNAT). */
function resolveService(
  objs: KubeObject[],
  svc: KubeObject,
  port: number | undefined,
  protocol: string,
  where: string,
): Target {
  const spec = isObj(svc.spec) ? svc.spec : {};
  const ns = svc.metadata.namespace ?? "default";
  const ports = (Array.isArray(spec.ports) ? spec.ports : []).filter(isObj);
  const sp =
    port === undefined
      ? ports[0]
      : ports.find((p) => p.port === port && ((p.protocol as string | undefined) ?? "TCP") === protocol);
  if (!sp)
    throw new ValidationError([
      {
        where,
        message: `service ${ns}/${svc.metadata.name} has no ${protocol} port ${port ?? ""}`.trimEnd(),
      },
    ]);
  const selector = isObj(spec.selector) ? spec.selector : {};
  const backends = objs
    .filter((o) => o.kind === "Pod" && o.apiVersion === "v1" && (o.metadata.namespace ?? "default") === ns)
    .filter(
      (o) =>
        Object.keys(selector).length > 0 &&
        Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v),
    )
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const backend = backends[0];
  if (!backend)
    throw new ValidationError([
      { where, message: `service ${ns}/${svc.metadata.name} selects no pod in the given files` },
    ]);
  let target: number | undefined = typeof sp.targetPort === "number" ? sp.targetPort : undefined;
  if (typeof sp.targetPort === "string") {
    const containers =
      isObj(backend.spec) && Array.isArray(backend.spec.containers) ? backend.spec.containers : [];
    for (const c of containers.filter(isObj))
      for (const cp of (Array.isArray(c.ports) ? c.ports : []).filter(isObj))
        if (cp.name === sp.targetPort) target = cp.containerPort as number;
    if (target === undefined)
      throw new ValidationError([
        { where, message: `pod ${ns}/${backend.metadata.name} has no port named "${sp.targetPort}"` },
      ]);
  }
  target ??= sp.port as number;
  return {
    ip: podIp(backend),
    port: target,
    label: `${ns}/${backend.metadata.name}`,
    note: `service ${ns}/${svc.metadata.name}:${String(sp.port)} → pod ${ns}/${backend.metadata.name} ${podIp(backend)}:${target}`,
  };
}

function resolveTarget(
  objs: KubeObject[],
  spec: string,
  where: string,
  dns: Map<string, string[]>,
  opts: { port?: number; protocol: string; allowDomain: boolean },
): Target {
  if (IP_RE.test(spec)) return { ip: spec, label: spec };
  const slash = spec.indexOf("/");
  if (slash > 0) {
    const ns = spec.slice(0, slash);
    const name = spec.slice(slash + 1);
    const p = findObj(objs, "Pod", ns, name);
    if (p) return { ip: podIp(p), label: `${ns}/${name}` };
    const s = opts.allowDomain ? findObj(objs, "Service", ns, name) : undefined;
    if (s) return resolveService(objs, s, opts.port, opts.protocol, where);
    throw new ValidationError([
      { where, message: `no pod${opts.allowDomain ? " or service" : ""} ${spec} in the given files` },
    ]);
  }
  if (opts.allowDomain && /^[A-Za-z0-9*._-]+\.[A-Za-z]{2,}\.?$/.test(spec)) {
    const ips = dns.get(spec.toLowerCase().replace(/\.$/, ""));
    if (!ips?.length)
      throw new ValidationError([
        { where, message: `cannot resolve ${spec}: give its address with --dns ${spec}=IP` },
      ]);
    return { ip: ips[0]!, label: spec, note: `${spec} resolved to ${ips.join(", ")} (--dns)` };
  }
  throw new ValidationError([
    { where, message: `"${spec}" is not namespace/name, an IP${opts.allowDomain ? " or a domain" : ""}` },
  ]);
}

function parseDns(entries: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const problems: Problem[] = [];
  for (const e of entries) {
    const m = /^([^=]+)=(.+)$/.exec(e);
    const ips = m
      ? m[2]!
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
    if (!m || !ips.length || ips.some((ip) => !IP_RE.test(ip)))
      problems.push({ where: "--dns", message: `expects NAME=IP[,IP…], got "${e}"` });
    else out.set(m[1]!.trim().toLowerCase().replace(/\.$/, ""), ips);
  }
  if (problems.length) throw new ValidationError(problems);
  return out;
}

function sideText(title: string, who: string, s: SideVerdict): string[] {
  const head = s.action === "none" ? "not a Calico endpoint" : s.action === "allow" ? "ALLOW" : "DENY";
  const lines = [`  ${title} (${who}): ${head}`, `    ${s.explanation}`];
  if (s.policies.length) lines.push(`    trace:   ${s.policies.join("  ")}`);
  if (s.pendingPolicies.join() !== s.policies.join())
    lines.push(
      `    pending: ${s.pendingPolicies.join("  ")}  (with staged policies: ${s.pendingAction.toUpperCase()})`,
    );
  return lines;
}

export const policyCommand: Command = {
  summary: "Test Calico and Kubernetes network policies offline (`policy check`)",
  async run(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    if (!sub || sub === "-h" || sub === "--help" || sub === "help") {
      process.stdout.write(`${formatHelp(USAGE, specs)}\n\n${DESCRIPTION}\n`);
      return sub ? 0 : 2;
    }
    if (sub !== "check")
      throw new ValidationError([{ where: sub, message: 'unknown subcommand (try "check")' }]);
    const o = parseOptions(specs, rest, {});
    if (o.help) {
      process.stdout.write(`${formatHelp(USAGE, specs)}\n\n${DESCRIPTION}\n`);
      return 0;
    }
    const missing: Problem[] = [];
    if (!o.file?.length) missing.push({ where: "-f", message: "give at least one file or directory" });
    if (!o.from) missing.push({ where: "--from", message: "is required (namespace/pod or an IP)" });
    if (!o.to)
      missing.push({
        where: "--to",
        message: "is required (namespace/pod, namespace/service, an IP or a domain)",
      });
    if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535))
      missing.push({ where: "--port", message: "must be between 1 and 65535" });
    if (missing.length) throw new ValidationError(missing);
    const edition = o.edition as "enterprise" | "oss";
    const dns = parseDns(o.dns ?? []);
    const loaded = loadObjects(o.file!, edition);
    const objs = loaded.map((l) => structuredClone(l.obj));
    objs.push(...podsForWorkloads(objs));
    assignPodIps(objs);
    const engine = new PolicyEngine({ edition });
    for (const obj of objs) engine.upsert(obj);
    const now = 0;
    for (const [name, ips] of dns) engine.recordTrustedAnswer({ name, ips, ttlSeconds: 3600, now });
    const protocol = o.protocol;
    const src = resolveTarget(objs, o.from!, "--from", dns, { protocol, allowDomain: false });
    const dst = resolveTarget(objs, o.to!, "--to", dns, {
      ...(o.port !== undefined ? { port: o.port } : {}),
      protocol,
      allowDomain: true,
    });
    const dstPort = dst.port ?? o.port;
    const verdict: Verdict = engine.evaluate({
      srcIp: src.ip,
      dstIp: dst.ip,
      protocol: protocol as "TCP",
      ...(dstPort !== undefined && protocol !== "ICMP" ? { dstPort } : {}),
      ...(protocol === "ICMP" ? { icmp: { type: 8, code: 0 } } : {}),
      now,
    });
    const side = (s: SideVerdict) => ({
      action: s.action,
      policies: s.policies,
      pendingPolicies: s.pendingPolicies,
    });
    if (o.output === "json") {
      process.stdout.write(
        JSON.stringify({
          allowed: verdict.allowed,
          egress: side(verdict.egress),
          ingress: side(verdict.ingress),
        }) + "\n",
      );
    } else {
      const portText = protocol === "ICMP" ? "ICMP echo" : `${dstPort ?? "any port"}/${protocol}`;
      const lines = [
        `${src.label} (${src.ip}) → ${dst.label} (${dst.ip}) ${portText}: ${verdict.allowed ? "ALLOWED" : "DENIED"}`,
        ...(dst.note ? [`  ${dst.note}`] : []),
        ...sideText("egress ", src.label, verdict.egress),
        ...sideText("ingress", dst.label, verdict.ingress),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    }
    if (o.expect && (o.expect === "allow") !== verdict.allowed) {
      process.stderr.write(
        `egresslab policy check: expected ${o.expect}, got ${verdict.allowed ? "allow" : "deny"}\n`,
      );
      return 1;
    }
    return 0;
  },
};
