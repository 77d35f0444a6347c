/**
 * The toolbox ServiceAccount's rights (clusters/toolbox.yaml) against what the lab's guide makes the learner do, with
 * the small evaluator of toolbox-rbac.cases.ts (test/integration/rbac-toolbox.test.ts replays the same requests
 * against the simulated API server, whose RBAC must agree with it). Every `kubectl` command in the guides' code blocks (both
 * editions) must map to requests here, and every object of every stage's solution and known-wrong solution must be
 * appliable; sensitive requests must be refused.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadLab, type Lab } from "../labs/index.ts";
import {
  allows,
  COMMANDS,
  DENIED,
  guideCommands,
  labDir,
  objectRequests,
  show,
  docs,
} from "./toolbox-rbac.cases.ts";

let lab: Lab;
beforeAll(async () => {
  lab = await loadLab(labDir);
});

describe("the toolbox's RBAC against the guide", () => {
  it("allows every kubectl command of every guide, both editions", () => {
    const commands = guideCommands();
    expect(commands.length).toBeGreaterThan(20);
    const unmapped: string[] = [];
    const refused: string[] = [];
    for (const c of commands) {
      const entry = COMMANDS.find((e) => e.match.test(c.line));
      if (!entry) {
        unmapped.push(`${c.file}: ${c.line}`);
        continue;
      }
      for (const q of entry.requests(c.line.match(entry.match)!))
        if (!allows(q)) refused.push(`${c.file}: ${c.line} → ${show(q)}`);
    }
    expect(unmapped).toEqual([]);
    expect(refused).toEqual([]);
  });

  it("allows applying (and taking back) every object of every stage's solution and known-wrong solution", () => {
    const refused: string[] = [];
    const seen = new Set<string>();
    for (const r of objectRequests(lab)) {
      if (!r.req) {
        refused.push(`${r.file}: ${r.problem ?? ""}`);
        continue;
      }
      seen.add(r.kind);
      if (!allows(r.req)) refused.push(`${r.file}: ${show(r.req)}`);
    }
    expect([...refused].filter((x, i, a) => a.indexOf(x) === i)).toEqual([]);
    expect(seen).toContain("GlobalNetworkPolicy");
    expect(seen).toContain("EgressGateway");
  });

  it("refuses what no guide command needs: secrets, exec and port-forward elsewhere, pods, workloads, RBAC, tiers", () => {
    expect(DENIED.filter((q) => allows(q)).map(show)).toEqual([]);
  });

  it("grants nothing wholesale: no '*' verb, no core '*' resource, no write on every resource", () => {
    for (const d of docs.filter((x) => x.rules))
      for (const r of d.rules!) {
        expect(r.verbs).not.toContain("*");
        if ((r.apiGroups ?? []).includes("") || (r.apiGroups ?? []).includes("*"))
          expect(r.resources).not.toContain("*");
        if (r.resources?.includes("*"))
          expect(r.verbs.every((v) => ["get", "list", "watch"].includes(v))).toBe(true);
      }
  });

  it("the evaluator itself: matches verbs, groups, subresources, names and binding scope as RBAC does", () => {
    expect(allows({ verb: "get", group: "", resource: "pods/exec", namespace: "shop" })).toBe(true);
    expect(allows({ verb: "get", group: "", resource: "pods/exec", namespace: "ops" })).toBe(true);
    expect(allows({ verb: "delete", group: "", resource: "pods/exec", namespace: "shop" })).toBe(false);
    expect(allows({ verb: "get", group: "apps", resource: "pods/exec", namespace: "shop" })).toBe(false);
    expect(allows({ verb: "list", group: "projectcalico.org", resource: "tier.globalnetworkpolicies" })).toBe(
      true,
    );
    expect(
      allows({
        verb: "create",
        group: "projectcalico.org",
        resource: "globalnetworkpolicies",
        name: "default-deny",
      }),
    ).toBe(true);
    expect(
      allows({
        verb: "create",
        group: "projectcalico.org",
        resource: "globalnetworkpolicies",
        name: "security.x",
        tier: "security",
      }),
    ).toBe(false);
  });
});
