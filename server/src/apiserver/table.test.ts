import { describe, expect, it } from "vitest";
import { toTable, wantsTable } from "./table.ts";
import { fakeTypes } from "../../../test/helpers/fake-cluster.ts";
import type { KubeObject } from "../store/types.ts";

describe("Table output", () => {
  const pods = fakeTypes().find((t) => t.plural === "pods")!;
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    status: { phase: "Running", podIP: "192.168.0.5" },
  };
  it("negotiates Table only when asked for", () => {
    expect(wantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")).toBe(true);
    expect(wantsTable("application/json")).toBe(false);
    expect(wantsTable(undefined)).toBe(false);
  });
  it("puts NAME first, keeps priorities and carries metadata by default", () => {
    const t = toTable(pods, [pod], { resourceVersion: "7" }) as {
      columnDefinitions: { name: string; priority: number; format: string }[];
      rows: { cells: unknown[]; object: { kind: string; metadata: { name: string } } }[];
      metadata: { resourceVersion: string };
    };
    expect(t.columnDefinitions.map((c) => [c.name, c.priority])).toEqual([
      ["Name", 0],
      ["Status", 0],
      ["IP", 1],
    ]);
    expect(t.columnDefinitions[0]!.format).toBe("name");
    expect(t.rows[0]!.cells).toEqual(["web", "Running", "192.168.0.5"]);
    expect(t.rows[0]!.object).toEqual({
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: pod.metadata,
    });
    expect(t.metadata.resourceVersion).toBe("7");
  });
  it.each([
    ["None", undefined],
    ["Object", "Pod"],
  ] as const)("includeObject=%s", (include, kind) => {
    const t = toTable(pods, [pod], { includeObject: include }) as { rows: { object?: { kind: string } }[] };
    expect(t.rows[0]!.object?.kind).toBe(kind);
  });
  it("leaves out columns after the first event of a watch", () => {
    expect(
      (toTable(pods, [pod], { noHeaders: true }) as { columnDefinitions: unknown[] }).columnDefinitions,
    ).toEqual([]);
  });
});
