/**
 * Name, label and annotation validation with the messages of `k8s.io/apimachinery/pkg/util/validation`.
 */
import type { FieldError } from "./errors.ts";

export type NameRule = "subdomain" | "label" | "dns1035" | "path";

const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export const subdomainMessage =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
export const labelMessage =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
export const dns1035Message =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const labelValueMessage =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const qualifiedNameMessage =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** The problems with `name` under `rule`, as detail strings. */
export function nameProblems(name: string, rule: NameRule): string[] {
  const out: string[] = [];
  switch (rule) {
    case "subdomain":
      if (name.length > 253) out.push("must be no more than 253 characters");
      if (!SUBDOMAIN_RE.test(name)) out.push(subdomainMessage);
      break;
    case "label":
      if (name.length > 63) out.push("must be no more than 63 characters");
      if (!LABEL_RE.test(name)) out.push(labelMessage);
      break;
    case "dns1035":
      if (name.length > 63) out.push("must be no more than 63 characters");
      if (!DNS1035_RE.test(name)) out.push(dns1035Message);
      break;
    case "path":
      if (name === "." || name === "..") out.push(`may not be '${name}'`);
      if (name.includes("/")) out.push("may not contain '/'");
      if (name.includes("%")) out.push("may not contain '%'");
      break;
  }
  return out;
}

/** `IsQualifiedName`: label keys, annotation keys (`prefix/name`). */
export function qualifiedNameProblems(key: string): string[] {
  const out: string[] = [];
  const parts = key.split("/");
  let name = key;
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (!prefix) out.push("prefix part must be non-empty");
    else if (prefix.length > 253) out.push("prefix part must be no more than 253 characters");
    else if (!SUBDOMAIN_RE.test(prefix)) out.push(`prefix part ${subdomainMessage}`);
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (!name) out.push("name part must be non-empty");
  else {
    if (name.length > 63) out.push("name part must be no more than 63 characters");
    if (!QUALIFIED_NAME_RE.test(name)) out.push(qualifiedNameMessage);
  }
  return out;
}

/** `IsValidLabelValue`: empty, or at most 63 alphanumerics, '-', '_' and '.' starting and ending alphanumeric. */
export function labelValueProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push("must be no more than 63 characters");
  if (!LABEL_VALUE_RE.test(v)) out.push(labelValueMessage);
  return out;
}

/** Label keys and values (`metadata.labels`), and selector `matchLabels`. */
export function validateLabels(labels: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!labels || typeof labels !== "object") return errs;
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const d of qualifiedNameProblems(k))
      errs.push({ field: path, type: "Invalid", value: k, detail: d });
    if (typeof v === "string") {
      if (v.length > 63)
        errs.push({ field: path, type: "Invalid", value: v, detail: "must be no more than 63 characters" });
      if (!LABEL_VALUE_RE.test(v))
        errs.push({ field: path, type: "Invalid", value: v, detail: labelValueMessage });
    }
  }
  return errs;
}

/** Annotation keys and total size. */
export function validateAnnotations(ann: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!ann || typeof ann !== "object") return errs;
  let total = 0;
  for (const [k, v] of Object.entries(ann as Record<string, unknown>)) {
    for (const d of qualifiedNameProblems(k.toLowerCase()))
      errs.push({ field: path, type: "Invalid", value: k, detail: d });
    total += k.length + String(v).length;
  }
  if (total > 256 * 1024)
    errs.push({ field: path, type: "TooLong", detail: `may not be more than 262144 bytes` });
  return errs;
}

/** `ValidateObjectMeta`: name (or generateName), labels, annotations. */
export function validateObjectMeta(meta: Record<string, unknown>, rule: NameRule): FieldError[] {
  const errs: FieldError[] = [];
  const name = meta.name;
  if (typeof name !== "string" || name === "") {
    if (typeof meta.generateName !== "string" || !meta.generateName)
      errs.push({ field: "metadata.name", type: "Required", detail: "name or generateName is required" });
  } else {
    for (const d of nameProblems(name, rule))
      errs.push({ field: "metadata.name", type: "Invalid", value: name, detail: d });
  }
  errs.push(...validateLabels(meta.labels, "metadata.labels"));
  errs.push(...validateAnnotations(meta.annotations, "metadata.annotations"));
  return errs;
}
