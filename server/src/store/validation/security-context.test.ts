/** Pods' security contexts as the API server validates them (`pkg/apis/core/validation`), through the store. */
import { describe, expect, it } from "vitest";
import { testApi } from "../testing.ts";
import { ApiError } from "../types.ts";

const pod = (spec: Record<string, unknown>, container: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p" },
  spec: { containers: [{ name: "c", image: "nginx:1.27", ...container }], ...spec },
});

function create(obj: unknown): ApiError | undefined {
  const { api, t } = testApi();
  try {
    api.create(t("pods"), "default", obj as never);
    return undefined;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
}

describe("security contexts", () => {
  it.each([
    [pod({ securityContext: { seccompProfile: { type: "Unconfined" } } })],
    [
      pod({
        securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "egresslab/bwrap.json" } },
      }),
    ],
    [pod({ securityContext: { appArmorProfile: { type: "RuntimeDefault" } } })],
    [pod({ hostUsers: false }, { securityContext: { procMount: "Unmasked" } })],
    [pod({}, { securityContext: { procMount: "Default" } })],
  ])("accepts %j", (obj) => {
    expect(create(obj)).toBeUndefined();
  });

  it.each([
    [
      pod({ securityContext: { seccompProfile: { type: "Localhost" } } }),
      "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
    ],
    [
      pod({ securityContext: { seccompProfile: { type: "Unconfined", localhostProfile: "x.json" } } }),
      'spec.securityContext.seccompProfile.localhostProfile: Invalid value: "x.json": can only be set when seccomp type is Localhost',
    ],
    [
      pod({}, { securityContext: { seccompProfile: { type: "Off" } } }),
      'spec.containers[0].securityContext.seccompProfile.type: Unsupported value: "Off": supported values: "Localhost", "RuntimeDefault", "Unconfined"',
    ],
    [
      pod({ securityContext: { appArmorProfile: { type: "Localhost" } } }),
      "spec.securityContext.appArmorProfile.localhostProfile: Required value: must be set when AppArmor type is Localhost",
    ],
    [
      pod({}, { securityContext: { procMount: "Unmasked" } }),
      'spec.containers[0].securityContext.procMount: Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`',
    ],
    [
      pod({ hostUsers: false }, { securityContext: { procMount: "Raw" } }),
      'spec.containers[0].securityContext.procMount: Unsupported value: "Raw": supported values: "Default", "Unmasked"',
    ],
  ])("refuses %j", (obj, message) => {
    const e = create(obj);
    expect(e?.code).toBe(422);
    expect(e?.message).toContain(message);
  });
});
