/**
 * The per-kind validation of the built-in kinds the simulator serves (the subset of the `pkg/apis/.../validation` packages that
 * people hit when writing YAML by hand), with the real field paths and details.
 */
import type { KubeObject, ResourceKey } from "../types.ts";
import { fromLabelSelectorObject, matchesLabels } from "../selectors.ts";
import type { FieldError } from "./errors.ts";
import { nameProblems, validateLabels } from "./names.ts";
import { validateSecurityContexts } from "./security-context.ts";
import { asArray, asObject, type JsonObject } from "../../shared/object.ts";

const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const IANA_SVC_NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** `validation.IsValidPortName`. */
export function portNameProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length > 15) out.push("must be no more than 15 characters");
  if (!IANA_SVC_NAME_RE.test(name))
    out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  else if (name.includes("--")) out.push("must not contain consecutive hyphens");
  if (!/[a-z]/.test(name)) out.push("must contain at least one letter (a-z)");
  return out;
}

function validatePortNumber(v: unknown, field: string, errs: FieldError[]): void {
  if (typeof v !== "number" || v < 1 || v > 65535)
    errs.push({ field, type: "Invalid", value: v ?? 0, detail: "must be between 1 and 65535, inclusive" });
}

function validateContainers(list: unknown, path: string, errs: FieldError[], required: boolean): void {
  const cs = asArray(list).map(asObject);
  if (required && !cs.length) errs.push({ field: path, type: "Required" });
  const seen = new Set<string>();
  cs.forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (typeof c.name !== "string" || !c.name) errs.push({ field: `${p}.name`, type: "Required" });
    else {
      for (const d of nameProblems(c.name, "label"))
        errs.push({ field: `${p}.name`, type: "Invalid", value: c.name, detail: d });
      if (seen.has(c.name)) errs.push({ field: `${p}.name`, type: "Duplicate", value: c.name });
      seen.add(c.name);
    }
    if (typeof c.image !== "string" || !c.image.trim()) errs.push({ field: `${p}.image`, type: "Required" });
    const portNames = new Set<string>();
    asArray(c.ports)
      .map(asObject)
      .forEach((port, j) => {
        const pp = `${p}.ports[${j}]`;
        if (port.containerPort === undefined) errs.push({ field: `${pp}.containerPort`, type: "Required" });
        else validatePortNumber(port.containerPort, `${pp}.containerPort`, errs);
        if (typeof port.name === "string" && port.name) {
          for (const d of portNameProblems(port.name))
            errs.push({ field: `${pp}.name`, type: "Invalid", value: port.name, detail: d });
          if (portNames.has(port.name))
            errs.push({ field: `${pp}.name`, type: "Duplicate", value: port.name });
          portNames.add(port.name);
        }
        if (port.protocol !== undefined && !PROTOCOLS.includes(String(port.protocol)))
          errs.push({
            field: `${pp}.protocol`,
            type: "NotSupported",
            value: port.protocol,
            supported: PROTOCOLS,
          });
      });
  });
}

export function validatePodSpec(spec: JsonObject, path: string, errs: FieldError[]): void {
  validateContainers(spec.containers, `${path}.containers`, errs, true);
  validateContainers(spec.initContainers, `${path}.initContainers`, errs, false);
  validateSecurityContexts(spec, path, errs);
  const rp = spec.restartPolicy;
  if (rp !== undefined && !["Always", "OnFailure", "Never"].includes(String(rp)))
    errs.push({
      field: `${path}.restartPolicy`,
      type: "NotSupported",
      value: rp,
      supported: ["Always", "OnFailure", "Never"],
    });
  const dp = spec.dnsPolicy;
  const dnsPolicies = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
  if (dp !== undefined && !dnsPolicies.includes(String(dp)))
    errs.push({ field: `${path}.dnsPolicy`, type: "NotSupported", value: dp, supported: dnsPolicies });
  const vols = new Set<string>();
  asArray(spec.volumes)
    .map(asObject)
    .forEach((v, i) => {
      if (typeof v.name !== "string" || !v.name)
        errs.push({ field: `${path}.volumes[${i}].name`, type: "Required" });
      else {
        if (vols.has(v.name))
          errs.push({ field: `${path}.volumes[${i}].name`, type: "Duplicate", value: v.name });
        vols.add(v.name);
      }
    });
  asArray(spec.containers)
    .map(asObject)
    .forEach((c, i) =>
      asArray(c.volumeMounts)
        .map(asObject)
        .forEach((m, j) => {
          if (typeof m.name === "string" && !vols.has(m.name) && !m.name.startsWith("kube-api-access-"))
            errs.push({
              field: `${path}.containers[${i}].volumeMounts[${j}].name`,
              type: "NotFound",
              value: m.name,
            });
        }),
    );
}

function validateWorkload(o: KubeObject, errs: FieldError[], needsSelector: boolean): void {
  const spec = asObject(o.spec);
  if (typeof spec.replicas === "number" && spec.replicas < 0)
    errs.push({
      field: "spec.replicas",
      type: "Invalid",
      value: spec.replicas,
      detail: "must be greater than or equal to 0",
    });
  const template = asObject(spec.template);
  const tmeta = asObject(template.metadata);
  const labels = asObject(tmeta.labels) as Record<string, string>;
  const selector = spec.selector;
  const sel = fromLabelSelectorObject(selector);
  if (needsSelector && (!selector || !sel.length)) {
    errs.push({ field: "spec.selector", type: "Required" });
    if (!selector)
      errs.push({
        field: "spec.template.metadata.labels",
        type: "Invalid",
        value: labels,
        detail: "`selector` does not match template `labels`",
      });
  } else if (selector && sel.length && !matchesLabels(sel, labels)) {
    errs.push({
      field: "spec.template.metadata.labels",
      type: "Invalid",
      value: labels,
      detail: "`selector` does not match template `labels`",
    });
  }
  if (selector) errs.push(...validateLabels(asObject(selector).matchLabels, "spec.selector.matchLabels"));
  errs.push(...validateLabels(tmeta.labels, "spec.template.metadata.labels"));
  validatePodSpec(asObject(template.spec), "spec.template.spec", errs);
}

const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

function validateService(o: KubeObject, errs: FieldError[]): void {
  const spec = asObject(o.spec);
  const type = String(spec.type ?? "ClusterIP");
  if (!SERVICE_TYPES.includes(type))
    errs.push({ field: "spec.type", type: "NotSupported", value: type, supported: SERVICE_TYPES });
  const ports = asArray(spec.ports).map(asObject);
  if (type !== "ExternalName" && !ports.length && spec.clusterIP !== "None")
    errs.push({ field: "spec.ports", type: "Required" });
  if (type === "ExternalName" && !spec.externalName)
    errs.push({ field: "spec.externalName", type: "Required" });
  const names = new Set<string>();
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    if (ports.length > 1 && (typeof p.name !== "string" || !p.name))
      errs.push({ field: `${pp}.name`, type: "Required" });
    if (typeof p.name === "string" && p.name) {
      for (const d of nameProblems(p.name, "label"))
        errs.push({ field: `${pp}.name`, type: "Invalid", value: p.name, detail: d });
      if (names.has(p.name)) errs.push({ field: `${pp}.name`, type: "Duplicate", value: p.name });
      names.add(p.name);
    }
    validatePortNumber(p.port, `${pp}.port`, errs);
    if (p.protocol !== undefined && !PROTOCOLS.includes(String(p.protocol)))
      errs.push({ field: `${pp}.protocol`, type: "NotSupported", value: p.protocol, supported: PROTOCOLS });
    const key = `${String(p.port)}/${String(p.protocol ?? "TCP")}`;
    if (seen.has(key))
      errs.push({
        field: `${pp}`,
        type: "Duplicate",
        value: { port: p.port, protocol: p.protocol ?? "TCP" },
      });
    seen.add(key);
    if (typeof p.targetPort === "number") validatePortNumber(p.targetPort, `${pp}.targetPort`, errs);
    else if (typeof p.targetPort === "string")
      for (const d of portNameProblems(p.targetPort))
        errs.push({ field: `${pp}.targetPort`, type: "Invalid", value: p.targetPort, detail: d });
  });
  errs.push(...validateLabels(spec.selector, "spec.selector"));
}

function validateEgressGateway(o: KubeObject, errs: FieldError[]): void {
  const spec = asObject(o.spec);
  const pools = asArray(spec.ipPools).map(asObject);
  if (!pools.length) errs.push({ field: "spec.ipPools", type: "Required" });
  pools.forEach((p, i) => {
    if (!p.name && !p.cidr)
      errs.push({
        field: `spec.ipPools[${i}]`,
        type: "Invalid",
        value: p,
        detail: "either name or cidr must be specified",
      });
  });
  if (typeof spec.replicas === "number" && spec.replicas < 0)
    errs.push({
      field: "spec.replicas",
      type: "Invalid",
      value: spec.replicas,
      detail: "should be greater than or equal to 0",
    });
  errs.push(
    ...validateLabels(
      asObject(spec.template).metadata ? asObject(asObject(spec.template).metadata).labels : undefined,
      "spec.template.metadata.labels",
    ),
  );
}

/** The kind-specific field errors of `obj` (names and metadata are checked separately). */
export function validateKind(key: ResourceKey, obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  switch (key) {
    case "core/pods":
      validatePodSpec(asObject(obj.spec), "spec", errs);
      break;
    case "apps/deployments":
    case "apps/replicasets":
    case "apps/daemonsets":
      validateWorkload(obj, errs, true);
      break;
    case "core/services":
      validateService(obj, errs);
      break;
    case "operator.tigera.io/egressgateways":
      validateEgressGateway(obj, errs);
      break;
  }
  return errs;
}
