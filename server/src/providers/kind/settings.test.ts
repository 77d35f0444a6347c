import { describe, expect, it } from "vitest";
import { ValidationError } from "../../shared/errors.ts";
import {
  compareVersions,
  loadKindSettings,
  manifestLocation,
  parseCalicoSettings,
  parseKindConfig,
  renderKindConfig,
} from "./settings.ts";

describe("kind settings", () => {
  it("loads the repository's pinned settings", async () => {
    const s = await loadKindSettings();
    expect(s.calico.oss.version).toBe("v3.32.1");
    expect(s.calico.oss.manifests).toEqual([
      "v1_crd_projectcalico_org.yaml",
      "tigera-operator.yaml",
      "custom-resources.yaml",
    ]);
    expect(s.clusterConfig).toMatchObject({
      networking: { disableDefaultCNI: true, podSubnet: "192.168.0.0/16" },
    });
  });

  it("lists every problem in calico.yaml at once, naming the file", () => {
    const err = (() => {
      try {
        parseCalicoSettings(
          "kind: {minVersion: v0.27.0}\noss: {version: 3.32, manifests: []}\n",
          "calico.yaml",
        );
      } catch (e) {
        return e;
      }
    })() as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    const wheres = err.problems.map((p) => p.where);
    expect(wheres).toEqual(
      expect.arrayContaining([
        "calico.yaml: oss.version",
        "calico.yaml: oss.manifests",
        "calico.yaml: timeouts",
      ]),
    );
  });

  it("refuses a kind config that would install kind's own CNI", () => {
    expect(() =>
      parseKindConfig(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: control-plane}]\n",
        "k.yaml",
      ),
    ).toThrow(/disableDefaultCNI must be true[\s\S]*podSubnet must be set/);
    expect(() => parseKindConfig(": :", "k.yaml")).toThrow(/k.yaml: not valid YAML/);
  });

  it("pins the node image on every node only when one is set", () => {
    const t = { kind: "Cluster", nodes: [{ role: "control-plane" }, { role: "worker" }] };
    expect(renderKindConfig(t, "")).toBe(t);
    expect(renderKindConfig(t, "kindest/node:v1.32.2").nodes).toEqual([
      { role: "control-plane", image: "kindest/node:v1.32.2" },
      { role: "worker", image: "kindest/node:v1.32.2" },
    ]);
  });

  it("builds manifest locations from the pinned URL or a mirror", () => {
    const install = {
      version: "v3.32.1",
      operatorVersion: "v1",
      manifestsUrl: "https://x/manifests/",
      manifests: ["a.yaml"],
      apply: [],
      components: ["calico"],
    };
    expect(manifestLocation(install, "a.yaml")).toBe("https://x/manifests/a.yaml");
    expect(manifestLocation(install, "a.yaml", "/m")).toBe("/m/a.yaml");
  });

  it.each([
    ["v0.27.0", "v0.27.0", 0],
    ["v0.26.9", "v0.27.0", -1],
    ["v0.30.0", "v0.27.0", 1],
    ["v1.0.0-alpha", "v0.27.0", 1],
  ])("compares %s with %s", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});
