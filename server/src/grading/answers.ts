/**
 * Answer checks: what the learner typed, normalised (case, whitespace, list order, `ns/name` vs `name.ns`, pod or
 * replica-set suffixes, URL decoration), against a truth that is a session value or computed from the flow log.
 */
import type { AnswerCheck, AnswerNormalizer } from "../labs/model/types.ts";
import type { CheckResult } from "../labs/api.ts";
import type { ClusterClient } from "./cluster.ts";
import { fetchFlows, fieldValues, FlowsUnavailable, recordMatches } from "./flows.ts";

const hashChars = "[bcdfghjklmnpqrstvwxz2456789]";
const podSuffix = new RegExp(`-${hashChars}{6,10}-${hashChars}{5}$`);
const rsSuffix = new RegExp(`-${hashChars}{6,10}$`);

/** `shop/catalog`, from `catalog.shop`, `shop/catalog-7d9f8b6c5-x2x4z`, `deployment/catalog -n shop`, `catalog-*`. */
export function normalizeWorkload(text: string): string {
  let t = text.trim().toLowerCase().replace(/\s+/g, " ");
  let ns: string | undefined;
  const flag = /(?:^| )(?:-n|--namespace)[ =]([a-z0-9-]+)(?: |$)/.exec(t);
  if (flag) {
    ns = flag[1];
    t = t.replace(flag[0], " ").trim();
  }
  t = t.replace(/(^|\/)(deployments?|deploy|pods?|po|daemonsets?|ds|statefulsets?|sts)(\.apps)?\//, "$1");
  let name = t;
  if (t.includes("/")) {
    const parts = t.split("/").filter(Boolean);
    if (parts.length >= 2) {
      ns ??= parts[parts.length - 2];
      name = parts[parts.length - 1]!;
    }
  } else if (!ns && t.includes(".")) {
    const [n, s] = t.split(".");
    name = n ?? t;
    ns = s;
  }
  if (/-\*$/.test(name)) {
    // A flow log's aggregated name: `<replicaset>-*`, where the replica set is `<deployment>-<hash>`.
    name = name.replace(/-\*$/, "").replace(rsSuffix, "");
  } else name = name.replace(/\*$/, "").replace(podSuffix, "");
  return ns ? `${ns}/${name}` : name;
}

/** `api.example.com` from `https://API.example.com:443/path` or `api.example.com.`. */
export function normalizeDomain(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, "")
    .replace(/[/?#].*$/, "")
    .replace(/:\d+$/, "")
    .replace(/\.$/, "");
}

function normalizeText(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, " ").replace(/[.!]$/, "");
}

function split(text: string, onSpaces: boolean): string[] {
  return text
    .split(onSpaces ? /[\s,;]+/ : /[,;\n]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The normalised set of items an answer stands for (one item unless the normaliser is a list). */
export function normalizeAnswer(text: string, how: AnswerNormalizer): string[] {
  let items: string[];
  switch (how) {
    case "text":
      items = [normalizeText(text)];
      break;
    case "workload":
      items = [normalizeWorkload(text)];
      break;
    case "domain":
      items = [normalizeDomain(text)];
      break;
    case "list":
      items = split(text, false).map(normalizeText);
      break;
    case "workloads":
      items = split(text.replace(/ (-n|--namespace) /g, " $1="), true).map(normalizeWorkload);
      break;
    case "domains":
      items = split(text, true).map(normalizeDomain);
      break;
  }
  return [...new Set(items.filter(Boolean))].sort();
}

/** Whether two normalised answers agree; a workload without a namespace matches the truth's workload name. */
export function sameAnswer(given: string[], truth: string[], how: AnswerNormalizer): boolean {
  if (given.length !== truth.length) return false;
  if (how !== "workload" && how !== "workloads") return given.every((g, i) => g === truth[i]);
  const left = [...truth];
  for (const g of given) {
    const i = left.findIndex((t) => t === g || (!g.includes("/") && t.endsWith(`/${g}`)));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}

/** Computes the truth of an answer check. */
export async function answerTruth(client: ClusterClient, c: AnswerCheck): Promise<string[]> {
  if (c.truth.values)
    return [...new Set(c.truth.values.flatMap((v) => normalizeAnswer(v, c.normalize)))].sort();
  const f = c.truth.flows!;
  const records = (await fetchFlows(client, f.query)).filter((r) => recordMatches(r, f.match));
  const raw = records.flatMap((r) => fieldValues(r, f.field));
  return [...new Set(raw.flatMap((v) => normalizeAnswer(v, c.normalize)))].sort();
}

/** Runs an answer check against the learner's answers (question id → text). */
export async function runAnswerCheck(
  client: ClusterClient,
  c: AnswerCheck,
  answers: Record<string, string>,
): Promise<CheckResult> {
  const given = answers[c.question];
  const base = { id: c.id, title: c.title };
  if (given === undefined || !given.trim())
    return { ...base, passed: false, seen: "no answer yet", hint: c.hint };
  let truth: string[];
  try {
    truth = await answerTruth(client, c);
  } catch (err) {
    if (err instanceof FlowsUnavailable) return { ...base, passed: false, seen: err.message, hint: c.hint };
    throw err;
  }
  if (!truth.length)
    return {
      ...base,
      passed: false,
      seen: "the flow log does not show the answer yet; generate some traffic and check again",
      hint: c.hint,
    };
  const norm = normalizeAnswer(given, c.normalize);
  const passed = sameAnswer(norm, truth, c.normalize);
  const many = c.normalize === "list" || c.normalize === "workloads" || c.normalize === "domains";
  let seen = `you answered ${norm.join(", ") || "(nothing)"}`;
  if (!passed && many) {
    const extra = norm.filter(
      (g) => !sameAnswer([g], truth.filter((t) => t === g || t.endsWith(`/${g}`)).slice(0, 1), c.normalize),
    );
    const found = truth.filter((t) => norm.some((g) => sameAnswer([g], [t], c.normalize)));
    seen += `: ${found.length} of ${truth.length} right${extra.length ? `, ${extra.length} not in the flow log` : ""}`;
  }
  return { ...base, passed, seen: passed ? `${seen}: correct` : seen, ...(passed ? {} : { hint: c.hint }) };
}
