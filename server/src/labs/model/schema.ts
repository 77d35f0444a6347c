/**
 * The schemas of lab files (`lab.yaml`, `checks.yaml`, `wrong.yaml`, `setup/commands.yaml`, `answers.yaml`). Unknown
 * fields are errors, so a typo never silently turns a check into one that cannot fail.
 */
import { RE2JS } from "re2js";
import { z } from "zod";

const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be lower-case letters, digits and '-'");
const nonEmpty = z.string().trim().min(1, "must not be empty");

const duration = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^(\d+h)?(\d+m)?$/, 'must be minutes or a duration such as "90m" or "1h30m"')
    .refine((s) => s.length > 0, "must not be empty"),
]);

/** Minutes from `90`, `"90m"` or `"1h30m"`. */
export function durationMinutes(d: number | string): number {
  if (typeof d === "number") return d;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?$/.exec(d);
  return Number(m?.[1] ?? 0) * 60 + Number(m?.[2] ?? 0);
}

const choice = z.union([
  z.string(),
  z
    .record(z.string(), z.string())
    .refine((r) => typeof r.value === "string", 'a choice with fields needs a "value" field'),
]);

const edition = z.enum(["enterprise", "oss"]);

/** A stage in lab.yaml: its directory, or `{id, editions}` for a stage that runs only on some editions. */
const stageEntry = z.union([
  z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a directory name in the lab"),
  z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a directory name in the lab"),
    editions: z.array(edition).min(1, "name at least one edition"),
  }),
]);

export const labFileSchema = z.strictObject({
  id: name,
  title: nonEmpty,
  description: nonEmpty,
  duration,
  profile: name,
  /** The learner's toolbox on a real cluster: the namespaces of the lab's workloads, where it may `kubectl exec`. */
  toolbox: z
    .strictObject({
      execNamespaces: z
        .array(name.max(63, "must be at most 63 characters"))
        .min(1, "name at least one namespace"),
    })
    .optional(),
  requirements: z
    .strictObject({
      /** One edition (the lab runs only there)… */
      edition: edition.optional(),
      /** …or several, the first being what a session gets when its cluster can be either. */
      editions: z.array(edition).min(1, "name at least one edition").optional(),
      providers: z.array(z.enum(["sim", "kind", "kubeconfig"])).default(["sim", "kind", "kubeconfig"]),
    })
    .refine((r) => !(r.edition && r.editions), "give edition or editions, not both")
    .refine((r) => new Set(r.editions).size === (r.editions?.length ?? 0), "an edition is listed twice")
    .default({ providers: ["sim", "kind", "kubeconfig"] }),
  params: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a parameter name is letters, digits and _"),
      z.strictObject({ oneOf: z.array(choice).min(1, "needs at least one choice") }),
    )
    .refine(
      (p) => !Object.hasOwn(p, "edition"),
      '"edition" is reserved: it holds the Calico edition of the session',
    )
    .default({}),
  stages: z.array(stageEntry).min(1),
});
export type LabFile = z.infer<typeof labFileSchema>;

const podRef = z
  .strictObject({
    namespace: name,
    pod: z.string().optional(),
    selector: z.string().optional(),
    container: z.string().optional(),
  })
  .refine((p) => (p.pod === undefined) !== (p.selector === undefined), "give exactly one of pod or selector");

const target = z
  .strictObject({
    domain: z.string().optional(),
    ip: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,3}){3}$/, "must be an IPv4 address")
      .optional(),
    service: z.strictObject({ name, namespace: name }).optional(),
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(["TCP", "UDP"]).default("TCP"),
    path: z.string().startsWith("/").optional(),
    scheme: z.enum(["https", "http", "tcp", "dns"]).optional(),
  })
  .refine(
    (t) => [t.domain, t.ip, t.service].filter((x) => x !== undefined).length === 1,
    "give exactly one of domain, ip or service",
  );

const cidr = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR such as 10.10.10.0/30");

const probeExpect = z.union(
  [
    z.enum(["allowed", "denied", "dns-failure", "blocked", "resolves", "refused"]),
    z.strictObject({ status: z.number().int().min(100).max(599) }),
    z.strictObject({
      sourceIP: z
        .strictObject({
          equals: z.string().optional(),
          in: cidr.optional(),
          notIn: cidr.optional(),
        })
        .refine((s) => s.equals ?? s.in ?? s.notIn, "give equals, in or notIn"),
    }),
  ],
  {
    error: () =>
      "expect is one of allowed, denied, blocked, dns-failure, resolves, refused, {status: N}, {sourceIP: {equals|in|notIn}}",
  },
);

const common = {
  id: name,
  title: nonEmpty,
  hint: nonEmpty,
  guard: z.boolean().default(false),
  /** Checks that must pass for this one to mean anything (a probe to a domain needs name resolution). */
  dependsOn: z.array(name).default([]),
};

const flowMatch = z.record(z.string(), z.union([z.string(), z.number(), z.array(z.string())])).default({});
const flowQuery = z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).default({});

const condition = z
  .strictObject({
    path: nonEmpty,
    equals: z.unknown().optional(),
    in: z.array(z.unknown()).optional(),
    contains: z.unknown().optional(),
    matches: z
      .string()
      .refine((p) => {
        try {
          RE2JS.compile(RE2JS.translateRegExp(p));
          return true;
        } catch {
          return false;
        }
      }, "not a regular expression RE2 accepts (no lookaround or back-references)")
      .optional(),
    exists: z.boolean().optional(),
  })
  .refine(
    (c) => ["equals", "in", "contains", "matches", "exists"].filter((k) => k in c).length === 1,
    "give exactly one of equals, in, contains, matches, exists",
  );

export const checkSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      ...common,
      kind: z.literal("probe"),
      from: podRef,
      to: target,
      expect: probeExpect,
      before: z.strictObject({ rotate: nonEmpty }).optional(),
    }),
    z.strictObject({
      ...common,
      kind: z.literal("resource"),
      target: z.strictObject({
        apiVersion: nonEmpty,
        kind: nonEmpty,
        namespace: z.string().optional(),
        name: z.string().optional(),
        labelSelector: z.string().optional(),
      }),
      expect: z.enum(["exists", "absent"]).default("exists"),
      where: z.array(condition).default([]),
    }),
    z.strictObject({
      ...common,
      kind: z.literal("flows"),
      query: flowQuery,
      match: flowMatch,
      windowSeconds: z.number().int().positive().optional(),
      expect: z.union([
        z.enum(["present", "absent"]),
        z
          .strictObject({
            atLeast: z.number().int().min(0).optional(),
            atMost: z.number().int().min(0).optional(),
          })
          .refine((c) => c.atLeast !== undefined || c.atMost !== undefined, "give atLeast or atMost"),
      ]),
    }),
    z.strictObject({
      ...common,
      kind: z.literal("answer"),
      question: name,
      normalize: z.enum(["text", "workload", "domain", "list", "workloads", "domains"]).default("text"),
      truth: z
        .strictObject({
          value: z.string().optional(),
          values: z.array(z.string()).optional(),
          flows: z.strictObject({ query: flowQuery, match: flowMatch, field: nonEmpty }).optional(),
        })
        .refine(
          (t) => [t.value, t.values, t.flows].filter((x) => x !== undefined).length === 1,
          "give exactly one of value, values or flows",
        ),
    }),
  ],
  { error: () => "kind must be one of probe, resource, flows, answer" },
);
export type CheckFile = z.infer<typeof checkSchema>;

export const checksFileSchema = z.strictObject({
  questions: z
    .array(z.strictObject({ id: name, prompt: nonEmpty, placeholder: z.string().optional() }))
    .default([]),
  checks: z.array(checkSchema).min(1, "a stage needs at least one check"),
});

export const wrongFileSchema = z.strictObject({
  why: nonEmpty,
  /** Every check it fails by itself; a check not run because one it depends on fails is not listed. */
  fails: z.array(name).min(1, "name at least one check this wrong solution must fail"),
  /** The check whose hint the learner sees first: the root cause of this mistake. */
  first: name,
  /** Files of the reference solution the mistaken attempt leaves out (by name, e.g. `default-deny.yaml`). */
  without: z.array(z.string().regex(/^[^/]+\.ya?ml$/, "a file name in solution/")).default([]),
  /** The editions this mistake can be made on (default: every edition of the lab). */
  editions: z.array(edition).min(1).optional(),
});

export const answersFileSchema = z.record(z.string(), z.union([z.string(), z.array(z.string())]));

export const commandsFileSchema = z.array(
  z.union([
    z.strictObject({ post: z.string().startsWith("/"), body: z.unknown().default({}) }),
    z.strictObject({ rotate: z.string().min(1) }),
    z.strictObject({
      exec: z.strictObject({ from: podRef, command: z.array(z.string()).min(1) }),
      ignoreFailure: z.boolean().default(true),
    }),
    z.strictObject({ wait: z.number().positive().max(600) }),
  ]),
);
