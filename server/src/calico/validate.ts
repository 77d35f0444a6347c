/**
 * Calico's own validation of projectcalico.org/v3 objects (and the semantic checks the Kubernetes API server applies to
 * networking.k8s.io/v1 NetworkPolicy): selectors, actions, protocols and ports, ICMP, nets, domains, tiers, services.
 * Pure: returns every problem found, each with a JSON path in `where`. Messages follow libcalico-go's
 * `lib/validator/v3/validator.go` where it has one.
 */
import type { Problem } from "../shared/errors.ts";
import { SelectorParseError, parseSelector } from "./selector.ts";
import { cidrWithin, cidrsOverlap, parseCidr } from "./nets.ts";
import { domainPatternProblem } from "./domains.ts";
import { isObject, type JsonObject } from "../shared/object.ts";

export interface ValidateOptions {
  edition: "enterprise" | "oss";
}

const nameLabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const nameSubdomainFmt = `${nameLabelFmt}(\\.${nameLabelFmt})*`;
const nameRegex = new RegExp(`^${nameSubdomainFmt}$`);
const tierNameRegex = new RegExp(`^${nameLabelFmt}$`);
const networkPolicyNameRegex = new RegExp(
  `^((${nameLabelFmt})(\\.${nameLabelFmt})?|((?:knp|ossg)\\.default\\.(${nameSubdomainFmt})))$`,
);
const globalNetworkPolicyNameRegex = new RegExp(`^(${nameLabelFmt}\\.)?${nameLabelFmt}$`);
const portNameRegex = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const ACTIONS = ["Allow", "Deny", "Log", "Pass"] as const;
export const PROTOCOLS = ["TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"] as const;
const protocolPortsMsg = "rules that specify ports must set protocol to TCP or UDP or SCTP";
const protocolIcmpMsg = "rules that specify ICMP fields must set protocol to ICMP";
const globalSelectorEntRule = "global() can only be used in an EntityRule namespaceSelector";
const globalSelectorOnly = "global() cannot be combined with other selectors";

class Collector {
  readonly problems: Problem[] = [];
  add(where: string, message: string): void {
    this.problems.push({ where, message });
  }
  selector(where: string, v: unknown, opts: { allowGlobal?: boolean } = {}): void {
    if (v === undefined || v === null) return;
    if (typeof v !== "string") return this.add(where, "must be a selector string");
    try {
      parseSelector(v);
    } catch (e) {
      if (e instanceof SelectorParseError)
        this.add(where, `invalid selector ${JSON.stringify(v)}: ${e.reason} at position ${e.position}`);
      else throw e;
      return;
    }
    if (!opts.allowGlobal && v.includes("global()")) this.add(where, globalSelectorEntRule);
  }
  list(where: string, v: unknown): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.add(where, "must be a list");
      return [];
    }
    return v;
  }
  obj(where: string, v: unknown): JsonObject | undefined {
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) {
      this.add(where, "must be an object");
      return undefined;
    }
    return v;
  }
}

/** Protocol name, number, or undefined. Returns the canonical name or number, or "invalid". */
function protocolOf(v: unknown): string | number | undefined | "invalid" {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return Number.isInteger(v) && v >= 1 && v <= 255 ? v : "invalid";
  if (typeof v === "string") {
    if ((PROTOCOLS as readonly string[]).includes(v)) return v;
    if (/^\d+$/.test(v)) {
      const n = Number(v);
      return n >= 1 && n <= 255 ? n : "invalid";
    }
  }
  return "invalid";
}

function supportsPorts(p: string | number | undefined | "invalid"): boolean {
  return p === "TCP" || p === "UDP" || p === "SCTP" || p === 6 || p === 17 || p === 132;
}

function checkPort(c: Collector, where: string, p: unknown): void {
  if (typeof p === "number") {
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      c.add(where, `port range invalid, port number must be between 0 and 65536 (got ${p})`);
    return;
  }
  if (typeof p !== "string") return c.add(where, 'must be a port number, a range "start:end" or a port name');
  const m = /^(\d+):(\d+)$/.exec(p);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (a < 1 || a > 65535 || b > 65535)
      c.add(where, `port range invalid, port number must be between 0 and 65536 (got "${p}")`);
    else if (a > b) c.add(where, `port range invalid: "${p}" starts after it ends`);
    return;
  }
  if (/^\d+$/.test(p)) return checkPort(c, where, Number(p));
  if (p.length > 15 || !portNameRegex.test(p) || !/[a-z]/.test(p))
    c.add(
      where,
      `invalid port name "${p}": up to 15 lower-case letters, digits and '-', with at least one letter`,
    );
}

function checkNets(c: Collector, where: string, v: unknown): (4 | 6)[] {
  const versions: (4 | 6)[] = [];
  c.list(where, v).forEach((n, i) => {
    const cidr = typeof n === "string" ? parseCidr(n) : undefined;
    if (!cidr) c.add(`${where}[${i}]`, `invalid CIDR ${JSON.stringify(n)}`);
    else versions.push(cidr.version);
  });
  return versions;
}

function checkIcmp(c: Collector, where: string, v: unknown): void {
  const icmp = c.obj(where, v);
  if (!icmp) return;
  const { type, code } = icmp;
  if (type !== undefined && (typeof type !== "number" || !Number.isInteger(type) || type < 0 || type > 254))
    c.add(`${where}.type`, "ICMP type must be between 0 and 254");
  if (code !== undefined && (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 255))
    c.add(`${where}.code`, "ICMP code must be between 0 and 255");
  if (code !== undefined && type === undefined)
    c.add(`${where}.code`, "ICMP code specified without an ICMP type");
}

interface RuleContext {
  direction: "ingress" | "egress";
  global: boolean;
}

function checkEntity(
  c: Collector,
  where: string,
  v: unknown,
  side: "source" | "destination",
  rule: JsonObject,
  ctx: RuleContext,
): void {
  const e = c.obj(where, v);
  if (!e) return;
  c.selector(`${where}.selector`, e.selector);
  c.selector(`${where}.notSelector`, e.notSelector);
  if (
    typeof e.namespaceSelector === "string" &&
    e.namespaceSelector.includes("global(") &&
    e.namespaceSelector.trim() !== "global()"
  ) {
    let onlyGlobal: boolean;
    try {
      onlyGlobal =
        parseSelector(e.namespaceSelector).toString() === "global()" &&
        !/[!&|(]/.test(e.namespaceSelector.replace(/global\(\s*\)/, ""));
    } catch {
      onlyGlobal = false;
    }
    if (!onlyGlobal) c.add(`${where}.namespaceSelector`, globalSelectorOnly);
    else c.selector(`${where}.namespaceSelector`, e.namespaceSelector, { allowGlobal: true });
  } else c.selector(`${where}.namespaceSelector`, e.namespaceSelector, { allowGlobal: true });
  const sa = c.obj(`${where}.serviceAccounts`, e.serviceAccounts);
  if (sa) {
    c.selector(`${where}.serviceAccounts.selector`, sa.selector);
    c.list(`${where}.serviceAccounts.names`, sa.names).forEach((n, i) => {
      if (typeof n !== "string" || n === "")
        c.add(`${where}.serviceAccounts.names[${i}]`, "must be a service account name");
    });
  }
  const proto = protocolOf(rule.protocol);
  for (const f of ["ports", "notPorts"] as const) {
    const ports = c.list(`${where}.${f}`, e[f]);
    ports.forEach((p, i) => checkPort(c, `${where}.${f}[${i}]`, p));
    const numeric = ports.some(
      (p) => typeof p === "number" || (typeof p === "string" && /^\d+(:\d+)?$/.test(p)),
    );
    if (
      ports.length &&
      (numeric || (rule.protocol !== undefined && rule.protocol !== null)) &&
      !supportsPorts(proto)
    )
      c.add(`${where}.${f}`, protocolPortsMsg);
  }
  const svc = c.obj(`${where}.services`, e.services);
  if (svc) {
    if (typeof svc.name !== "string" || svc.name === "")
      c.add(`${where}.services`, "must specify a service name");
    if (e.namespaceSelector)
      c.add(`${where}.services`, "cannot specify NamespaceSelector and Services on the same rule");
    if (e.selector || e.notSelector)
      c.add(`${where}.services`, "cannot specify Selector/NotSelector and Services on the same rule");
    if (e.serviceAccounts)
      c.add(`${where}.services`, "cannot specify ServiceAccounts and Services on the same rule");
    if ((Array.isArray(e.nets) && e.nets.length) || (Array.isArray(e.notNets) && e.notNets.length))
      c.add(`${where}.services`, "cannot specify Nets/NotNets and Services on the same rule");
    if (side === "destination" && Array.isArray(e.ports) && e.ports.length)
      c.add(`${where}.ports`, "cannot specify ports with a service selector");
    if (side === "destination" && Array.isArray(e.notPorts) && e.notPorts.length)
      c.add(`${where}.notPorts`, "cannot specify notports with a service selector");
    if (ctx.direction === "egress" && side === "source")
      c.add(`${where}.services`, "not allowed in egress rule source");
    if (ctx.direction === "ingress" && side === "destination")
      c.add(`${where}.services`, "not allowed in ingress rule destination");
    if (ctx.global && (typeof svc.namespace !== "string" || svc.namespace === ""))
      c.add(`${where}.services.namespace`, "must specify a namespace");
  }
  if (e.domains !== undefined) {
    const domains = c.list(`${where}.domains`, e.domains);
    domains.forEach((d, i) => {
      const p = domainPatternProblem(d);
      if (p) c.add(`${where}.domains[${i}]`, p);
    });
    if (domains.length) {
      if (side !== "destination" || ctx.direction !== "egress")
        c.add(`${where}.domains`, "domains are only valid in the destination of egress rules");
      if (rule.action !== "Allow") c.add(`${where}.domains`, "rules with domains must have action Allow");
      if (Array.isArray(e.nets) && e.nets.length)
        c.add(`${where}.domains`, "cannot specify both domains and nets in the same rule");
      if (typeof e.selector === "string" && e.selector !== "")
        c.add(`${where}.domains`, "cannot specify both domains and a selector in the same rule");
    }
  }
}

function checkRule(c: Collector, where: string, v: unknown, ctx: RuleContext): void {
  const r = c.obj(where, v);
  if (!r) return c.add(where, "must be a rule object");
  if (!(ACTIONS as readonly unknown[]).includes(r.action))
    c.add(
      `${where}.action`,
      `error with field Action = ${JSON.stringify(r.action ?? "")} (must be one of Allow, Deny, Pass, Log)`,
    );
  for (const f of ["protocol", "notProtocol"] as const) {
    if (protocolOf(r[f]) === "invalid")
      c.add(
        `${where}.${f}`,
        typeof r[f] === "number" || /^\d+$/.test(String(r[f]))
          ? "protocol number invalid (must be 1-255)"
          : "protocol name invalid (one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite, or a number 1-255)",
      );
  }
  if (r.ipVersion !== undefined && r.ipVersion !== 4 && r.ipVersion !== 6)
    c.add(`${where}.ipVersion`, "ipVersion must be 4 or 6");
  checkIcmp(c, `${where}.icmp`, r.icmp);
  checkIcmp(c, `${where}.notICMP`, r.notICMP);
  const proto = protocolOf(r.protocol);
  if (r.icmp !== undefined && proto !== "ICMP" && proto !== "ICMPv6" && proto !== 1 && proto !== 58)
    c.add(`${where}.icmp`, protocolIcmpMsg);
  if ((proto === "ICMP" || r.notProtocol === "ICMP") && r.ipVersion !== undefined && r.ipVersion !== 4)
    c.add(`${where}.ipVersion`, "must set ipversion to '4' with protocol icmp");
  if ((proto === "ICMPv6" || r.notProtocol === "ICMPv6") && r.ipVersion !== undefined && r.ipVersion !== 6)
    c.add(`${where}.ipVersion`, "must set ipversion to '6' with protocol icmpv6");
  const seen = new Set<4 | 6>();
  for (const side of ["source", "destination"] as const) {
    checkEntity(c, `${where}.${side}`, r[side], side, r, ctx);
    const e = isObject(r[side]) ? r[side] : {};
    for (const f of ["nets", "notNets"] as const) {
      const versions = checkNets(c, `${where}.${side}.${f}`, e[f]);
      if (r.ipVersion !== undefined && versions.some((x) => x !== r.ipVersion))
        c.add(`${where}.${side}.${f}`, "rule IP version doesn't match CIDR version");
      const vs = new Set(versions);
      if (vs.size > 1 || [...vs].some((x) => seen.size && !seen.has(x)))
        c.add(`${where}.${side}.${f}`, "rule contains both IPv4 and IPv6 CIDRs");
      vs.forEach((x) => seen.add(x));
      if (f === "notNets")
        c.list(`${where}.${side}.${f}`, e[f]).forEach((n, i) => {
          const cidr = typeof n === "string" ? parseCidr(n) : undefined;
          if (cidr && cidr.prefix === 0)
            c.add(
              `${where}.${side}.notNets[${i}]`,
              `notNets ${cidr.text} matches no packet at all; use an explicit Deny or remove the rule`,
            );
        });
    }
  }
  if (r.http !== undefined && r.http !== null) {
    if (r.action !== "Allow") c.add(`${where}.http`, "only valid for Allow rules");
    if (ctx.direction === "egress") c.add(`${where}.http`, "not allowed in egress rules");
    if (r.protocol !== undefined && r.protocol !== "TCP")
      c.add(`${where}.protocol`, "rules that specify HTTP fields must set protocol to TCP or empty");
  }
}

function checkName(c: Collector, name: unknown, regex: RegExp, message: string): void {
  if (typeof name !== "string" || name === "") return c.add("metadata.name", "name is required");
  if (name.length > 253) c.add("metadata.name", `name is too long by ${name.length - 253} bytes`);
  if (!regex.test(name)) c.add("metadata.name", message);
}

function checkPolicySpec(c: Collector, spec: JsonObject, global: boolean, staged: boolean): void {
  if (
    spec.order !== undefined &&
    spec.order !== null &&
    (typeof spec.order !== "number" || !Number.isFinite(spec.order))
  )
    c.add("spec.order", "order must be a number");
  if (
    spec.tier !== undefined &&
    (typeof spec.tier !== "string" || (spec.tier !== "" && !tierNameRegex.test(spec.tier)))
  )
    c.add(
      "spec.tier",
      `tier name must consist of lower case alphanumeric characters or '-' (regex: ${nameLabelFmt})`,
    );
  c.selector("spec.selector", spec.selector);
  c.selector("spec.serviceAccountSelector", spec.serviceAccountSelector);
  if (global) c.selector("spec.namespaceSelector", spec.namespaceSelector);
  const types = c.list("spec.types", spec.types);
  const seen = new Set<unknown>();
  types.forEach((t, i) => {
    if (t !== "Ingress" && t !== "Egress")
      c.add(`spec.types[${i}]`, `invalid policy type ${JSON.stringify(t)}: must be Ingress or Egress`);
    else if (seen.has(t)) c.add("spec.types", `'${t}' type specified more than once`);
    seen.add(t);
  });
  if (
    staged &&
    spec.stagedAction !== undefined &&
    !["Set", "Delete", "Learn", "Ignore"].includes(spec.stagedAction as string)
  )
    c.add("spec.stagedAction", "stagedAction must be one of Set, Delete, Learn, Ignore");
  for (const dir of ["ingress", "egress"] as const)
    c.list(`spec.${dir}`, spec[dir]).forEach((r, i) =>
      checkRule(c, `spec.${dir}[${i}]`, r, { direction: dir, global }),
    );
  if (global) {
    if (spec.doNotTrack === true && spec.preDNAT === true)
      c.add("spec.preDNAT", "PreDNAT and DoNotTrack cannot both be true, for a given PolicySpec");
    if (spec.preDNAT === true && Array.isArray(spec.egress) && spec.egress.length)
      c.add("spec.egress", "PreDNAT PolicySpec cannot have any Egress rules");
    if (spec.preDNAT === true && types.includes("Egress"))
      c.add("spec.types", "PreDNAT PolicySpec cannot have 'egress' Type");
    if (spec.applyOnForward !== true && (spec.doNotTrack === true || spec.preDNAT === true))
      c.add(
        "spec.applyOnForward",
        "ApplyOnForward must be true if either PreDNAT or DoNotTrack is true, for a given PolicySpec",
      );
  }
}

function checkLabelSelector(c: Collector, where: string, v: unknown): void {
  const s = c.obj(where, v);
  if (!s) return;
  const ml = c.obj(`${where}.matchLabels`, s.matchLabels);
  for (const [k, val] of Object.entries(ml ?? {}))
    if (typeof val !== "string")
      c.add(`${where}.matchLabels.${k}`, 'label values must be strings (quote values such as "true")');
  c.list(`${where}.matchExpressions`, s.matchExpressions).forEach((e, i) => {
    const w = `${where}.matchExpressions[${i}]`;
    if (!isObject(e)) return c.add(w, "must be an object");
    const values = Array.isArray(e.values) ? e.values : [];
    if (typeof e.key !== "string" || e.key === "") c.add(`${w}.key`, "Required value");
    if (e.operator === "In" || e.operator === "NotIn") {
      if (!values.length) c.add(`${w}.values`, "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (e.operator === "Exists" || e.operator === "DoesNotExist") {
      if (values.length)
        c.add(`${w}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else
      c.add(
        `${w}.operator`,
        `Unsupported value: ${JSON.stringify(e.operator)}: supported values: "DoesNotExist", "Exists", "In", "NotIn"`,
      );
  });
}

/** The API server's checks of a networking.k8s.io/v1 NetworkPolicy spec (also used for StagedKubernetesNetworkPolicy). */
function checkK8sPolicySpec(c: Collector, spec: JsonObject, staged = false): void {
  if (!staged && (spec.podSelector === undefined || spec.podSelector === null))
    c.add("spec.podSelector", "Required value");
  checkLabelSelector(c, "spec.podSelector", spec.podSelector);
  const types = c.list("spec.policyTypes", spec.policyTypes);
  types.forEach((t, i) => {
    if (t !== "Ingress" && t !== "Egress")
      c.add(
        `spec.policyTypes[${i}]`,
        `Unsupported value: ${JSON.stringify(t)}: supported values: "Egress", "Ingress"`,
      );
  });
  if (new Set(types).size !== types.length) c.add("spec.policyTypes", "Duplicate value");
  for (const [dir, peersField] of [
    ["ingress", "from"],
    ["egress", "to"],
  ] as const) {
    c.list(`spec.${dir}`, spec[dir]).forEach((r, i) => {
      const w = `spec.${dir}[${i}]`;
      if (!isObject(r)) return c.add(w, "must be an object");
      c.list(`${w}.ports`, r.ports).forEach((p, j) => {
        const pw = `${w}.ports[${j}]`;
        if (!isObject(p)) return c.add(pw, "must be an object");
        if (p.protocol !== undefined && !["TCP", "UDP", "SCTP"].includes(p.protocol as string))
          c.add(
            `${pw}.protocol`,
            `Unsupported value: ${JSON.stringify(p.protocol)}: supported values: "SCTP", "TCP", "UDP"`,
          );
        if (typeof p.port === "number") {
          if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
            c.add(`${pw}.port`, "must be between 1 and 65535, inclusive");
        } else if (typeof p.port === "string") {
          if (p.port.length > 15 || !portNameRegex.test(p.port) || !/[a-z]/.test(p.port))
            c.add(
              `${pw}.port`,
              "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, with at least one letter",
            );
        } else if (p.port !== undefined) c.add(`${pw}.port`, "must be a port number or name");
        if (p.endPort !== undefined) {
          if (typeof p.port !== "number")
            c.add(`${pw}.endPort`, "may not be specified when `port` is non-numeric");
          else if (typeof p.endPort !== "number" || p.endPort < p.port)
            c.add(`${pw}.endPort`, "must be greater than or equal to `port`");
          else if (p.endPort > 65535) c.add(`${pw}.endPort`, "must be between 1 and 65535, inclusive");
        }
      });
      c.list(`${w}.${peersField}`, r[peersField]).forEach((peer, j) => {
        const pw = `${w}.${peersField}[${j}]`;
        if (!isObject(peer)) return c.add(pw, "must be an object");
        const n = ["podSelector", "namespaceSelector", "ipBlock"].filter(
          (k) => peer[k] !== undefined && peer[k] !== null,
        ).length;
        if (n === 0) c.add(pw, "must specify a peer");
        if (peer.ipBlock !== undefined && n > 1) c.add(pw, "may not specify more than 1 peer type");
        checkLabelSelector(c, `${pw}.podSelector`, peer.podSelector);
        checkLabelSelector(c, `${pw}.namespaceSelector`, peer.namespaceSelector);
        const ib = c.obj(`${pw}.ipBlock`, peer.ipBlock);
        if (ib) {
          const cidr = typeof ib.cidr === "string" ? parseCidr(ib.cidr, { requireMask: true }) : undefined;
          if (!cidr)
            c.add(
              `${pw}.ipBlock.cidr`,
              `Invalid value: ${JSON.stringify(ib.cidr ?? "")}: must be a valid CIDR`,
            );
          c.list(`${pw}.ipBlock.except`, ib.except).forEach((x, k) => {
            const ex = typeof x === "string" ? parseCidr(x, { requireMask: true }) : undefined;
            if (!ex)
              c.add(
                `${pw}.ipBlock.except[${k}]`,
                `Invalid value: ${JSON.stringify(x)}: must be a valid CIDR`,
              );
            else if (cidr && (ex.prefix <= cidr.prefix || !cidrWithin(ex, cidr)))
              c.add(
                `${pw}.ipBlock.except[${k}]`,
                `Invalid value: ${JSON.stringify(x)}: must be a strict subset of \`cidr\``,
              );
          });
        }
      });
    });
  }
}

function checkTier(c: Collector, obj: JsonObject, spec: JsonObject): void {
  const name = (obj.metadata as JsonObject | undefined)?.name;
  if (typeof name !== "string" || name === "") c.add("metadata.name", "name is required");
  else {
    if (name.length > 63) c.add("metadata.name", `name is too long by ${name.length - 63} bytes`);
    if (!tierNameRegex.test(name))
      c.add(
        "metadata.name",
        `name must consist of lower case alphanumeric characters or '-' (regex: ${nameLabelFmt})`,
      );
  }
  if (
    spec.order !== undefined &&
    spec.order !== null &&
    (typeof spec.order !== "number" || !Number.isFinite(spec.order))
  )
    c.add("spec.order", "order must be a number");
  if (spec.defaultAction !== undefined && spec.defaultAction !== "Deny" && spec.defaultAction !== "Pass")
    c.add("spec.defaultAction", "defaultAction must be Deny or Pass");
  const fixed: Record<string, [number, string]> = {
    default: [1_000_000, "Deny"],
    "kube-admin": [1_000, "Pass"],
    "kube-baseline": [10_000_000, "Pass"],
  };
  const f = typeof name === "string" ? fixed[name] : undefined;
  if (f) {
    if (spec.order !== f[0]) c.add("spec.order", `${name} tier order must be ${f[0]}`);
    if ((spec.defaultAction ?? "Deny") !== f[1])
      c.add("spec.defaultAction", `${name} tier defaultAction must be ${f[1]}`);
  }
}

function checkNetworkSet(c: Collector, obj: JsonObject, spec: JsonObject): void {
  const labels = ((obj.metadata as JsonObject | undefined)?.labels ?? {}) as JsonObject;
  if ("projectcalico.org/namespace" in labels)
    c.add("metadata.labels", "projectcalico.org/namespace is not a valid label name");
  checkNets(c, "spec.nets", spec.nets);
  c.list("spec.allowedEgressDomains", spec.allowedEgressDomains).forEach((d, i) => {
    const p = domainPatternProblem(d);
    if (p) c.add(`spec.allowedEgressDomains[${i}]`, p);
  });
}

function checkIPPool(c: Collector, spec: JsonObject): void {
  if (typeof spec.cidr !== "string" || spec.cidr === "")
    return c.add("spec.cidr", "IPPool CIDR must be specified");
  const cidr = parseCidr(spec.cidr);
  if (!cidr) return c.add("spec.cidr", "IPPool CIDR must be a valid subnet");
  const bs = spec.blockSize ?? (cidr.version === 4 ? 26 : 122);
  if (typeof bs !== "number" || !Number.isInteger(bs))
    c.add("spec.blockSize", "blockSize must be an integer");
  else {
    if (cidr.version === 4 && (bs < 20 || bs > 32))
      c.add("spec.blockSize", "IPv4 block size must be between 20 and 32");
    if (cidr.version === 6 && (bs < 116 || bs > 128))
      c.add("spec.blockSize", "IPv6 block size must be between 116 and 128");
    if (spec.disabled !== true && cidr.prefix > bs)
      c.add(
        "spec.cidr",
        "IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.",
      );
  }
  if (cidr.hadHostBits) c.add("spec.cidr", "IP pool CIDR is not strictly masked");
  if (cidrsOverlap(cidr, parseCidr("169.254.0.0/16")!))
    c.add("spec.cidr", "IP pool range overlaps with IPv4 Link Local range 169.254.0.0/16");
  for (const f of ["ipipMode", "vxlanMode"] as const)
    if (spec[f] !== undefined && !["Always", "CrossSubnet", "Never"].includes(spec[f] as string))
      c.add(`spec.${f}`, `${f} must be one of Always, CrossSubnet, Never`);
  if (
    ["Always", "CrossSubnet"].includes(spec.ipipMode as string) &&
    ["Always", "CrossSubnet"].includes(spec.vxlanMode as string)
  )
    c.add("spec.ipipMode", "IPIPMode and VXLANMode cannot both be enabled on the same IP pool");
  c.selector("spec.nodeSelector", spec.nodeSelector);
}

function checkEgressGatewayPolicy(c: Collector, spec: JsonObject): void {
  const rules = c.list("spec.rules", spec.rules);
  if (!rules.length) c.add("spec.rules", "must have at least one rule");
  const dests = new Map<string, number>();
  rules.forEach((r, i) => {
    const w = `spec.rules[${i}]`;
    if (!isObject(r)) return c.add(w, "must be an object");
    const dest = c.obj(`${w}.destination`, r.destination);
    const gw = c.obj(`${w}.gateway`, r.gateway);
    if (!dest && !gw) c.add(w, "a rule needs a destination or a gateway");
    const text =
      dest?.cidr === undefined
        ? "0.0.0.0/0"
        : typeof dest.cidr === "string"
          ? parseCidr(dest.cidr)?.text
          : undefined;
    if (dest?.cidr !== undefined && !text)
      c.add(`${w}.destination.cidr`, `invalid CIDR ${JSON.stringify(dest.cidr)}`);
    if (text) {
      const prev = dests.get(text);
      if (prev !== undefined)
        c.add(`${w}.destination.cidr`, `destination ${text} is already used by spec.rules[${prev}]`);
      else dests.set(text, i);
    }
    if (gw) {
      for (const f of ["selector", "namespaceSelector"] as const) {
        if (gw[f] !== undefined && (typeof gw[f] !== "string" || (gw[f] as string).trim() === ""))
          c.add(`${w}.gateway.${f}`, "selector must not be empty");
        else c.selector(`${w}.gateway.${f}`, gw[f]);
      }
      if (gw.selector === undefined && gw.namespaceSelector === undefined)
        c.add(`${w}.gateway`, "gateway needs a selector");
      if (gw.maxNextHops !== undefined && (typeof gw.maxNextHops !== "number" || gw.maxNextHops < 0))
        c.add(`${w}.gateway.maxNextHops`, "maxNextHops must be a non-negative integer");
    }
    if (
      r.gatewayPreference !== undefined &&
      r.gatewayPreference !== "None" &&
      r.gatewayPreference !== "PreferNodeLocal"
    )
      c.add(`${w}.gatewayPreference`, "gatewayPreference must be None or PreferNodeLocal");
  });
}

function checkEgressGateway(c: Collector, spec: JsonObject): void {
  if (
    spec.replicas !== undefined &&
    (typeof spec.replicas !== "number" || !Number.isInteger(spec.replicas) || spec.replicas < 0)
  )
    c.add("spec.replicas", "replicas must be a non-negative integer");
  const pools = c.list("spec.ipPools", spec.ipPools);
  if (!pools.length) c.add("spec.ipPools", "at least one IP pool (name or cidr) is required");
  pools.forEach((p, i) => {
    if (!isObject(p) || (typeof p.name !== "string" && typeof p.cidr !== "string"))
      c.add(`spec.ipPools[${i}]`, "must have a name or a cidr");
    else if (typeof p.cidr === "string" && !parseCidr(p.cidr))
      c.add(`spec.ipPools[${i}].cidr`, `invalid CIDR ${JSON.stringify(p.cidr)}`);
  });
  const fd = c.obj("spec.egressGatewayFailureDetection", spec.egressGatewayFailureDetection);
  for (const probe of ["icmpProbe", "httpProbe"] as const) {
    const p = fd ? c.obj(`spec.egressGatewayFailureDetection.${probe}`, fd[probe]) : undefined;
    for (const f of ["intervalSeconds", "timeoutSeconds"] as const)
      if (p && p[f] !== undefined && (typeof p[f] !== "number" || (p[f] as number) <= 0))
        c.add(`spec.egressGatewayFailureDetection.${probe}.${f}`, `${f} must be a positive number`);
  }
}

function checkFelixConfiguration(c: Collector, spec: JsonObject): void {
  c.list("spec.dnsTrustedServers", spec.dnsTrustedServers).forEach((s, i) => {
    if (typeof s !== "string" || !(s.startsWith("k8s-service:") || parseTrustedIp(s)))
      c.add(
        `spec.dnsTrustedServers[${i}]`,
        `${JSON.stringify(s)} is not <ip>[:<port>] or k8s-service:[<namespace>/]<name>[:<port>]`,
      );
  });
}

function parseTrustedIp(s: string): boolean {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s) ?? /^([0-9.]+)(?::(\d+))?$/.exec(s);
  if (m) return parseCidr(m[1]!, {}) !== undefined;
  return parseCidr(s) !== undefined && !s.includes("/");
}

/**
 * Validates one object as Calico (and the Kubernetes API server, for networking.k8s.io NetworkPolicy) would. Returns
 * every problem found (empty when valid); objects of other kinds return no problems.
 */
export function validateCalicoObject(obj: unknown, opts: ValidateOptions): Problem[] {
  void opts;
  const c = new Collector();
  if (!isObject(obj)) return [{ message: "must be an object" }];
  const apiVersion = obj.apiVersion;
  const kind = obj.kind;
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const spec = obj.spec === undefined || obj.spec === null ? {} : obj.spec;
  if (!isObject(spec)) return [{ where: "spec", message: "must be an object" }];
  const policyNameMsg = `name must consist of lower case alphanumeric characters or '-' (regex: ${nameLabelFmt})`;
  if (apiVersion === "networking.k8s.io/v1" && kind === "NetworkPolicy") {
    checkK8sPolicySpec(c, spec);
    return c.problems;
  }
  if (apiVersion === "operator.tigera.io/v1" && kind === "EgressGateway") {
    checkEgressGateway(c, spec);
    return c.problems;
  }
  if (apiVersion !== "projectcalico.org/v3") return [];
  switch (kind) {
    case "NetworkPolicy":
    case "StagedNetworkPolicy":
      checkName(c, meta.name, networkPolicyNameRegex, policyNameMsg);
      if (kind === "StagedNetworkPolicy" && spec.stagedAction === "Delete") break;
      checkPolicySpec(c, spec, false, kind === "StagedNetworkPolicy");
      break;
    case "GlobalNetworkPolicy":
    case "StagedGlobalNetworkPolicy":
      checkName(c, meta.name, globalNetworkPolicyNameRegex, policyNameMsg);
      if (kind === "StagedGlobalNetworkPolicy" && spec.stagedAction === "Delete") break;
      checkPolicySpec(c, spec, true, kind === "StagedGlobalNetworkPolicy");
      break;
    case "StagedKubernetesNetworkPolicy":
      checkName(
        c,
        meta.name,
        nameRegex,
        `name must consist of lower case alphanumeric characters, '-' or '.' (regex: ${nameSubdomainFmt})`,
      );
      if (
        spec.stagedAction !== undefined &&
        !["Set", "Delete", "Learn", "Ignore"].includes(spec.stagedAction as string)
      )
        c.add("spec.stagedAction", "stagedAction must be one of Set, Delete, Learn, Ignore");
      if (spec.stagedAction !== "Delete") checkK8sPolicySpec(c, spec, true);
      break;
    case "Tier":
      checkTier(c, obj, spec);
      break;
    case "NetworkSet":
    case "GlobalNetworkSet":
      checkNetworkSet(c, obj, spec);
      break;
    case "IPPool":
      checkIPPool(c, spec);
      break;
    case "EgressGatewayPolicy":
      checkEgressGatewayPolicy(c, spec);
      break;
    case "FelixConfiguration":
      checkFelixConfiguration(c, spec);
      break;
  }
  return c.problems;
}
