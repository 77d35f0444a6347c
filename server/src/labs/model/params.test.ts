import { describe, expect, it } from "vitest";
import { paramNames, paramVariants, sessionParams } from "./params.ts";
import type { ParamSpec } from "./types.ts";

const params: ParamSpec[] = [
  {
    name: "compromised",
    choices: [
      { value: "shop/catalog", fields: { ns: "shop", app: "catalog" } },
      { value: "ops/backup", fields: { ns: "ops", app: "backup" } },
    ],
  },
  {
    name: "c2Domain",
    choices: ["a.example", "b.example", "c.example"].map((value) => ({ value, fields: {} })),
  },
];
const lab = { id: "t", params };

describe("sessionParams", () => {
  it("is deterministic for a seed and carries a choice's fields", () => {
    const a = sessionParams(lab, 42);
    expect(sessionParams(lab, 42)).toEqual(a);
    expect(a[`compromised.app`]).toBe(a.compromised === "shop/catalog" ? "catalog" : "backup");
  });
  it("spreads sessions over every choice", () => {
    const seen = new Set(Array.from({ length: 200 }, (_, i) => sessionParams(lab, i).c2Domain));
    expect([...seen].sort()).toEqual(["a.example", "b.example", "c.example"]);
  });
});

describe("paramVariants", () => {
  it("covers every choice of every parameter", () => {
    const v = paramVariants(params);
    expect(v.map((x) => x.c2Domain)).toEqual(["a.example", "b.example", "c.example"]);
    expect(new Set(v.map((x) => x.compromised))).toEqual(new Set(["shop/catalog", "ops/backup"]));
  });
  it("lists the names templates may use", () => {
    expect([...paramNames(params)].sort()).toEqual([
      "c2Domain",
      "compromised",
      "compromised.app",
      "compromised.ns",
    ]);
  });
});
