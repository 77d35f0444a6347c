/**
 * Ingresses (`pkg/registry/networking/ingress/strategy.go`, `pkg/apis/networking/validation`: ValidateIngressSpec): the
 * server owns the status; a spec needs rules or a default backend; hosts are DNS names (a leading `*.` allowed), never
 * IP addresses; each path says its type and, for Exact and Prefix, is absolute; each backend names one service port.
 */
import { isIP } from "node:net";
import type { KubeObject } from "../types.ts";
import type { FieldError } from "../validation/errors.ts";
import { nameProblems } from "../validation/names.ts";
import { portNameProblems } from "../validation/kinds.ts";
import { asArray, asObject, isObject, type JsonObject } from "../../shared/object.ts";
import type { Strategy } from "./types.ts";

const PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES = ["/..", "/."];
const WILDCARD_MESSAGE =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** `IsDNS1123Subdomain`, or `IsWildcardDNS1123Subdomain` when the host holds a `*`. */
function hostProblems(host: string): string[] {
  if (!host.includes("*")) return nameProblems(host, "subdomain");
  const out: string[] = [];
  if (host.length > 253) out.push("must be no more than 253 characters");
  if (!host.startsWith("*.") || nameProblems(host.slice(2), "subdomain").length) out.push(WILDCARD_MESSAGE);
  return out;
}

function validateBackend(b: JsonObject, path: string, errs: FieldError[]): void {
  const hasResource = isObject(b.resource);
  const hasService = isObject(b.service);
  if (hasResource && hasService) {
    errs.push({
      field: path,
      type: "Invalid",
      value: "",
      detail: "cannot set both resource and service backends",
    });
    return;
  }
  if (hasResource) {
    const r = asObject(b.resource);
    if (typeof r.kind !== "string" || !r.kind)
      errs.push({ field: `${path}.resource.kind`, type: "Required" });
    if (typeof r.name !== "string" || !r.name)
      errs.push({ field: `${path}.resource.name`, type: "Required" });
    return;
  }
  if (!hasService) {
    errs.push({ field: path, type: "Invalid", value: "", detail: "resource or service backend is required" });
    return;
  }
  const svc = asObject(b.service);
  const name = typeof svc.name === "string" ? svc.name : "";
  if (!name) errs.push({ field: `${path}.service.name`, type: "Required" });
  else
    for (const d of nameProblems(name, "dns1035"))
      errs.push({ field: `${path}.service.name`, type: "Invalid", value: name, detail: d });
  const port = asObject(svc.port);
  const portName = typeof port.name === "string" ? port.name : "";
  const number = typeof port.number === "number" ? port.number : 0;
  if (portName && number)
    errs.push({ field: path, type: "Invalid", value: "", detail: "cannot set both port name & port number" });
  else if (portName)
    for (const d of portNameProblems(portName))
      errs.push({ field: `${path}.service.port.name`, type: "Invalid", value: portName, detail: d });
  else if (number) {
    if (number < 1 || number > 65535)
      errs.push({
        field: `${path}.service.port.number`,
        type: "Invalid",
        value: number,
        detail: "must be between 1 and 65535, inclusive",
      });
  } else errs.push({ field: path, type: "Required", detail: "port name or number is required" });
}

function validatePath(p: JsonObject, path: string, errs: FieldError[]): void {
  if (p.pathType === undefined || p.pathType === null) {
    errs.push({ field: `${path}.pathType`, type: "Required", detail: "pathType must be specified" });
    return;
  }
  const value = typeof p.path === "string" ? p.path : "";
  const type = String(p.pathType);
  if (type === "Exact" || type === "Prefix") {
    if (!value.startsWith("/"))
      errs.push({ field: `${path}.path`, type: "Invalid", value, detail: "must be an absolute path" });
    for (const s of INVALID_PATH_SEQUENCES)
      if (value.includes(s))
        errs.push({ field: `${path}.path`, type: "Invalid", value, detail: `must not contain '${s}'` });
    for (const s of INVALID_PATH_SUFFIXES)
      if (value.endsWith(s))
        errs.push({ field: `${path}.path`, type: "Invalid", value, detail: `cannot end with '${s}'` });
  } else if (type === "ImplementationSpecific") {
    if (value && !value.startsWith("/"))
      errs.push({ field: `${path}.path`, type: "Invalid", value, detail: "must be an absolute path" });
  } else errs.push({ field: `${path}.pathType`, type: "NotSupported", value: type, supported: PATH_TYPES });
  validateBackend(asObject(p.backend), `${path}.backend`, errs);
}

/** `ValidateIngressSpec`. */
export function validateIngressSpec(spec: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const rules = asArray(spec.rules).map(asObject);
  if (!rules.length && !isObject(spec.defaultBackend))
    errs.push({
      field: "spec",
      type: "Invalid",
      value: spec.rules ?? null,
      detail: "either `defaultBackend` or `rules` must be specified",
    });
  if (isObject(spec.defaultBackend)) validateBackend(spec.defaultBackend, "spec.defaultBackend", errs);
  rules.forEach((r, i) => {
    const rp = `spec.rules[${i}]`;
    const host = typeof r.host === "string" ? r.host : "";
    if (host) {
      if (isIP(host))
        errs.push({
          field: `${rp}.host`,
          type: "Invalid",
          value: host,
          detail: "must be a DNS name, not an IP address",
        });
      for (const d of hostProblems(host))
        errs.push({ field: `${rp}.host`, type: "Invalid", value: host, detail: d });
    }
    if (!isObject(r.http)) return;
    const paths = asArray(r.http.paths).map(asObject);
    if (!paths.length) errs.push({ field: `${rp}.http.paths`, type: "Required" });
    paths.forEach((p, j) => validatePath(p, `${rp}.http.paths[${j}]`, errs));
  });
  asArray(spec.tls)
    .map(asObject)
    .forEach((t, i) => {
      asArray(t.hosts).forEach((h, j) => {
        const host = String(h);
        for (const d of hostProblems(host))
          errs.push({ field: `spec.tls[${i}].hosts[${j}]`, type: "Invalid", value: host, detail: d });
      });
      if (typeof t.secretName === "string" && t.secretName)
        for (const d of nameProblems(t.secretName, "subdomain"))
          errs.push({ field: `spec.tls[${i}].secretName`, type: "Invalid", value: t.secretName, detail: d });
    });
  if (typeof spec.ingressClassName === "string")
    for (const d of nameProblems(spec.ingressClassName, "subdomain"))
      errs.push({ field: "spec.ingressClassName", type: "Invalid", value: spec.ingressClassName, detail: d });
  return errs;
}

export const ingressStrategy: Strategy = {
  tracksGeneration: true,
  prepareForCreate(obj: KubeObject) {
    obj.status = {};
  },
  prepareForUpdate(next, old) {
    next.status = old.status ?? {};
  },
  validate: (obj) => validateIngressSpec(asObject(obj.spec)),
};
