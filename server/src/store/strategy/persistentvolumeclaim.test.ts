/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */
/**
 * PersistentVolumeClaims as the real API server validates them (`pkg/apis/core/validation`:
 * ValidatePersistentVolumeClaimSpec, ValidatePersistentVolumeClaimUpdate): access modes and a positive storage request
 * required, the spec immutable once created, the status the server's (Pending: no provisioner binds a volume).
 */
import { describe, expect, it } from "vitest";
import { testApi } from "../testing.ts";
import { ApiError } from "../types.ts";

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

const pvc = (spec: Record<string, unknown>) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name: "data" },
  spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "20Gi" } }, ...spec },
});

describe("PersistentVolumeClaim", () => {
  it("stores a valid one Pending, defaults the volume mode, and ignores a client's status", () => {
    const { api, t } = testApi();
    const { object } = api.create(t("pvc"), "default", {
      ...pvc({ storageClassName: "nfs-client" }),
      status: { phase: "Bound", capacity: { storage: "20Gi" } },
    });
    expect(object.status).toEqual({ phase: "Pending" });
    expect((object.spec as any).volumeMode).toBe("Filesystem");
    expect(t("persistentvolumeclaims").kind).toBe("PersistentVolumeClaim");
    expect(t("pvc").subresources).toContain("status");
  });

  it.each([
    [{ accessModes: [] }, "spec.accessModes: Required value: at least 1 access mode is required"],
    [{ accessModes: undefined }, "spec.accessModes: Required value: at least 1 access mode is required"],
    [
      { accessModes: ["ReadWriteAll"] },
      'spec.accessModes: Unsupported value: "ReadWriteAll": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    ],
    [
      { accessModes: ["ReadWriteOncePod", "ReadWriteOnce"] },
      "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
    ],
    [{ resources: {} }, "spec.resources[storage]: Required value"],
    [
      { resources: { requests: { storage: "0" } } },
      'spec.resources[storage]: Invalid value: "0": must be greater than zero',
    ],
    [
      { volumeMode: "Raw" },
      'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"',
    ],
  ])("refuses %j with 422", (spec, message) => {
    const { api, t } = testApi();
    const e = apiError(() => api.create(t("pvc"), "default", pvc(spec)));
    expect(e.code).toBe(422);
    expect(e.message).toContain('PersistentVolumeClaim "data" is invalid');
    expect(e.message).toContain(message);
    expect(api.list(t("pvc"), { namespace: "default" }).items).toHaveLength(0);
  });

  it("refuses a storage request that is not a quantity as the decoder does (400)", () => {
    const { api, t } = testApi();
    const e = apiError(() =>
      api.create(t("pvc"), "default", pvc({ resources: { requests: { storage: "lots" } } })),
    );
    expect(e.code).toBe(400);
    expect(e.message).toBe(
      `PersistentVolumeClaim in version "v1" cannot be handled as a PersistentVolumeClaim: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
    for (const ok of ["1Gi", "500M", "1.5e3", " 2Ki ", "+3E", ".5Ti", 1024])
      expect(
        api.create(t("pvc"), "default", {
          ...pvc({ resources: { requests: { storage: ok } } }),
          metadata: { name: `q${String(ok).replace(/\W/g, "")}`.toLowerCase() },
        }).object.metadata.name,
      ).toBeTruthy();
  });

  it.each([
    ["lots", "quantities must match the regular expression"],
    ["1.2.3Gi", "quantities must match the regular expression"],
    ["1Gi5", "unable to parse quantity's suffix"],
    ["1e", "unable to parse quantity's suffix"],
    ["10Gb", "quantities must match the regular expression"],
  ])("refuses the storage request %j when decoding", (storage, message) => {
    const { api, t } = testApi();
    const e = apiError(() => api.create(t("pvc"), "default", pvc({ resources: { requests: { storage } } })));
    expect(e.code).toBe(400);
    expect(e.message).toContain(message);
  });

  it("keeps the spec immutable on update, a Pending claim's size included, and allows label changes", () => {
    const { api, t } = testApi();
    api.create(t("pvc"), "default", pvc({}));
    const cur = api.get(t("pvc"), "default", "data") as any;
    for (const spec of [
      { ...cur.spec, accessModes: ["ReadWriteOnce"] },
      { ...cur.spec, resources: { requests: { storage: "40Gi" } } },
      { ...cur.spec, storageClassName: "fast" },
    ]) {
      const e = apiError(() => api.update(t("pvc"), "default", "data", { ...cur, spec }));
      expect(e.code).toBe(422);
      expect(e.message).toContain(
        'PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      );
    }
    // The same size spelt another way is no change (quantities compare by value).
    for (const storage of ["20480Mi", "21474836480", "0.01953125Ti"])
      expect(
        api.update(t("pvc"), "default", "data", {
          ...(api.get(t("pvc"), "default", "data") as any),
          spec: { ...cur.spec, resources: { requests: { storage } } },
        }).object,
      ).toBeTruthy();
    const e = apiError(() =>
      api.update(t("pvc"), "default", "data", {
        ...(api.get(t("pvc"), "default", "data") as any),
        spec: { ...cur.spec, resources: { requests: { storage: "20481Mi" } } },
      }),
    );
    expect(e.message).toContain("spec is immutable after creation");
    const fresh = api.get(t("pvc"), "default", "data") as any;
    const { object } = api.update(t("pvc"), "default", "data", {
      ...fresh,
      metadata: { ...fresh.metadata, labels: { tier: "homes" } },
      status: { phase: "Bound" },
    });
    expect(object.metadata.labels).toEqual({ tier: "homes" });
    expect(object.status).toEqual({ phase: "Pending" });
    expect((api.get(t("pvc"), "default", "data") as any).spec.accessModes).toEqual(["ReadWriteMany"]);
  });
});
