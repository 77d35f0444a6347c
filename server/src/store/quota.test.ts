import { describe, expect, it } from "vitest";
import { testApi } from "./testing.ts";
import { ApiError, type KubeObject } from "./types.ts";

const cm = (name: string, bytes: number) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data: { blob: "x".repeat(bytes) },
});

const blob = (o: KubeObject) => String((o as { data?: Record<string, string> }).data?.blob);

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected the write to be refused");
}

describe("a cluster's storage quota", () => {
  it("refuses creates past the object limit, stores nothing, and has room again after a delete", () => {
    const { api, store, t } = testApi("enterprise", ["default"], { objects: 20, bytes: 64 << 20 });
    const before = store.snapshot().objects["core/configmaps"]?.length ?? 0;
    let made = 0;
    let err: ApiError | undefined;
    for (let i = 0; i < 40 && !err; i++) {
      try {
        api.create(t("configmaps"), "default", cm(`c${i}`, 10));
        made++;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        err = e;
      }
    }
    expect(err?.code).toBe(403);
    expect(err?.message).toMatch(/exceeded quota: this cluster may hold at most 20 objects/);
    expect(store.snapshot().objects["core/configmaps"]?.length).toBe(before + made);
    api.delete(t("configmaps"), "default", "c0");
    expect(() => api.create(t("configmaps"), "default", cm("again", 10))).not.toThrow();
  });

  it("refuses creates and growing updates past the byte limit, allows shrinking ones, counts deletes", () => {
    const { api, t } = testApi("enterprise", ["default"], { objects: 10_000, bytes: 1 << 20 });
    for (let i = 0; i < 4; i++) api.create(t("configmaps"), "default", cm(`big${i}`, 200_000));
    const create = refusal(() => api.create(t("configmaps"), "default", cm("big4", 300_000)));
    expect(create.code).toBe(403);
    expect(create.message).toMatch(/objects may use at most 1\.0 MiB/);
    expect(() => api.get(t("configmaps"), "default", "big4")).toThrow();

    const grow = refusal(() => api.update(t("configmaps"), "default", "big0", cm("big0", 500_000)));
    expect(grow.code).toBe(403);
    expect(blob(api.get(t("configmaps"), "default", "big0"))).toHaveLength(200_000);

    api.update(t("configmaps"), "default", "big0", cm("big0", 10));
    expect(blob(api.get(t("configmaps"), "default", "big0"))).toHaveLength(10);
    api.delete(t("configmaps"), "default", "big1");
    expect(() => api.create(t("configmaps"), "default", cm("big4", 300_000))).not.toThrow();
  });

  it("counts what is already stored and what controllers write, not only the attendee's own writes", () => {
    const { api, t } = testApi("enterprise", ["default"], { objects: 10_000, bytes: 400_000 });
    api.createStored(t("configmaps"), "default", cm("seeded", 300_000), { trusted: true });
    expect(refusal(() => api.create(t("configmaps"), "default", cm("more", 150_000))).code).toBe(403);
  });
});
