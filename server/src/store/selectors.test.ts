import { describe, expect, it } from "vitest";
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  fromLabelSelectorObject,
} from "./selectors.ts";
import { ApiError, type KubeObject } from "./types.ts";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front", env: "prod" };
  it.each([
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app=db", false],
    ["app!=db", true],
    ["missing!=x", true],
    ["env in (prod,staging)", true],
    ["env in (dev)", false],
    ["env notin (dev,qa)", true],
    ["missing notin (a)", true],
    ["tier", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["app=web,tier=front", true],
    ["app=web,tier=back", false],
    ["app=web, env in (prod), !legacy", true],
  ])("%s → %s", (sel, want) => {
    expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(want);
  });
  it("rejects garbage with a 400", () => {
    expect(() => parseLabelSelector("app=(x")).toThrow(ApiError);
    try {
      parseLabelSelector("a b c");
    } catch (e) {
      expect((e as ApiError).code).toBe(400);
    }
  });
  it("converts metav1.LabelSelector objects", () => {
    const sel = fromLabelSelectorObject({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod"] },
        { key: "legacy", operator: "DoesNotExist" },
      ],
    });
    expect(matchesLabels(sel, labels)).toBe(true);
    expect(matchesLabels(sel, { ...labels, legacy: "1" })).toBe(false);
  });
});

describe("field selectors", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "a", namespace: "ns" },
    spec: { nodeName: "n1" },
    status: { phase: "Running" },
  } as KubeObject;
  it.each([
    ["metadata.name=a", true],
    ["metadata.name!=a", false],
    ["metadata.namespace=ns,spec.nodeName=n1", true],
    ["status.phase=Pending", false],
    ["status.phase==Running", true],
  ])("%s → %s", (sel, want) => {
    expect(matchesFields(parseFieldSelector(sel, "core/pods", "Pod", "v1"), pod)).toBe(want);
  });
  it("supports involvedObject fields on events only", () => {
    const ev = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e", namespace: "ns" },
      involvedObject: { kind: "Pod", name: "a" },
    } as KubeObject;
    expect(
      matchesFields(
        parseFieldSelector("involvedObject.kind=Pod,involvedObject.name=a", "core/events", "Event", "v1"),
        ev,
      ),
    ).toBe(true);
    expect(() => parseFieldSelector("involvedObject.kind=Pod", "core/pods", "Pod", "v1")).toThrow(
      "field label not supported: involvedObject.kind",
    );
  });
});

describe("label selectors parse as labels.Parse does", () => {
  it.each([
    [","],
    ["a,"],
    [",a"],
    ["a b"],
    ["!"],
    ["a in"],
    ["a in (b"],
    ["a=(b)"],
    ["a!"],
    ["!a=b"],
    ["x>a"],
    ["bad key!"],
    ["a=b c"],
    ["(".repeat(100000)],
    [`a in (${"b,".repeat(50000)}`],
  ])("rejects %s with a 400", (sel) => {
    let err: unknown;
    try {
      parseLabelSelector(sel);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(400);
  });
  it.each([
    ["", []],
    ["  ", []],
    ["a", [{ key: "a", op: "exists" }]],
    ["!a", [{ key: "a", op: "!" }]],
    ["a=", [{ key: "a", op: "=", value: "" }]],
    [
      "a==b,c!=d",
      [
        { key: "a", op: "=", value: "b" },
        { key: "c", op: "!=", value: "d" },
      ],
    ],
    [
      "a in (),b notin (x, y,)",
      [
        { key: "a", op: "in", values: [""] },
        { key: "b", op: "notin", values: ["", "x", "y"] },
      ],
    ],
    ["in in (in,notin)", [{ key: "in", op: "in", values: ["in", "notin"] }]],
    [
      "x>3,y<-1",
      [
        { key: "x", op: "gt", value: 3 },
        { key: "y", op: "lt", value: -1 },
      ],
    ],
  ])("parses %j", (sel, want) => {
    expect(parseLabelSelector(sel)).toEqual(want);
  });
  it("compares integers for > and <", () => {
    expect(matchesLabels(parseLabelSelector("x>3"), { x: "4" })).toBe(true);
    expect(matchesLabels(parseLabelSelector("x>3"), { x: "3" })).toBe(false);
    expect(matchesLabels(parseLabelSelector("x<3"), { x: "a" })).toBe(false);
  });
});

describe("field selectors parse as fields.ParseSelector does", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "a,b", namespace: "ns" },
  } as KubeObject;
  it("skips empty terms and honours escapes", () => {
    expect(parseFieldSelector(",", "core/pods", "Pod", "v1")).toEqual([]);
    expect(matchesFields(parseFieldSelector("metadata.name=a\\,b", "core/pods", "Pod", "v1"), pod)).toBe(
      true,
    );
  });
  it.each([
    ["metadata.name=a=b"],
    ["metadata.name=a\\x"],
    ["metadata.name=\\"],
    ["nothing"],
    [" metadata.name=a"],
  ])("rejects %s with a 400", (sel) => {
    expect(() => parseFieldSelector(sel, "core/pods", "Pod", "v1")).toThrow(ApiError);
  });
});
