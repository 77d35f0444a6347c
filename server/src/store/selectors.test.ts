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
