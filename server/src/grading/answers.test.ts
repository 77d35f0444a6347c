import { describe, expect, it } from "vitest";
import type { AnswerCheck } from "../labs/model/types.ts";
import {
  normalizeAnswer,
  normalizeDomain,
  normalizeWorkload,
  runAnswerCheck,
  sameAnswer,
} from "./answers.ts";
import { FakeClient } from "./fake-client.ts";

describe("normalizeWorkload", () => {
  it.each([
    ["shop/catalog", "shop/catalog"],
    ["Shop/Catalog ", "shop/catalog"],
    ["catalog.shop", "shop/catalog"],
    ["deployment/catalog -n shop", "shop/catalog"],
    ["shop/deploy/catalog", "shop/catalog"],
    ["shop/catalog-7d9f8b6c5-x2x4z", "shop/catalog"],
    ["catalog-7d9f8b6c5-*", "catalog"],
    ["catalog-bcdfghjk-*", "catalog"],
    ["shop/web-backend", "shop/web-backend"],
    ["shop/api-gateway", "shop/api-gateway"],
    ["catalog", "catalog"],
  ])("%s → %s", (text, want) => {
    expect(normalizeWorkload(text)).toBe(want);
  });
});

describe("normalizeAnswer", () => {
  it("normalises domains and lists regardless of order and case", () => {
    expect(normalizeDomain("https://API.Stripe.com:443/v1")).toBe("api.stripe.com");
    expect(normalizeAnswer("b.com, A.com\nb.com", "domains")).toEqual(["a.com", "b.com"]);
    expect(normalizeAnswer("checkout.shop, ops/backup", "workloads")).toEqual([
      "ops/backup",
      "shop/checkout",
    ]);
  });
  it("accepts a bare workload name for a namespaced truth", () => {
    expect(sameAnswer(["catalog"], ["shop/catalog"], "workload")).toBe(true);
    expect(sameAnswer(["ops/catalog"], ["shop/catalog"], "workload")).toBe(false);
    expect(sameAnswer(["a.com"], ["a.com", "b.com"], "domains")).toBe(false);
  });
});

describe("runAnswerCheck", () => {
  const check: AnswerCheck = {
    id: "who",
    title: "which workload beacons",
    hint: "look at denied flows",
    guard: false,
    kind: "answer",
    question: "who",
    normalize: "workload",
    truth: {
      flows: {
        query: { action: "deny" },
        match: { dest_type: "net" },
        field: "{source_namespace}/{source_name}",
      },
    },
  };
  it("computes the truth from the flow log", async () => {
    const c = new FakeClient();
    c.flows = [
      { source_namespace: "ops", source_name: "backup-5f6d7c8b9-*", dest_type: "net", action: "deny" },
      { source_namespace: "shop", source_name: "checkout-*", dest_type: "wep", action: "deny" },
    ];
    expect((await runAnswerCheck(c, check, { who: "backup.ops" })).passed).toBe(true);
    expect((await runAnswerCheck(c, check, { who: "shop/checkout" })).passed).toBe(false);
    expect(await runAnswerCheck(c, check, {})).toMatchObject({
      passed: false,
      seen: "no answer yet",
      hint: "look at denied flows",
    });
    expect(
      c.calls.some((x) => x.startsWith("whisker GET /whisker-backend/flows?") && x.includes("Deny")),
    ).toBe(true);
  });
  it("fails, never passes, when the cluster has no flow API", async () => {
    const c = new FakeClient();
    c.flows = undefined;
    const r = await runAnswerCheck(c, check, { who: "ops/backup" });
    expect(r.passed).toBe(false);
    expect(r.seen).toMatch(/flow logs not available on this cluster/);
  });
});
