import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadLab } from "../labs/index.ts";
import { labRunner, sessionEdition, type GradingFunctions } from "./lab-runner.ts";

const labDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../labs/egress-workshop");
const grading = {} as GradingFunctions;

describe("the lab's track per workshop", () => {
  it("runs the provider's edition when the lab has a track for it, else the lab's first", async () => {
    const lab = await loadLab(labDir);
    expect(sessionEdition(lab, "oss")).toBe("oss");
    expect(sessionEdition(lab, "enterprise")).toBe("enterprise");
    const single = {
      ...lab,
      requirements: {
        ...lab.requirements,
        edition: "enterprise" as const,
        editions: ["enterprise" as const],
      },
    };
    expect(sessionEdition(single, "oss")).toBe("enterprise");
  });

  it("gives sessions of an Open Source workshop the Open Source guides and clusters", async () => {
    const lab = await loadLab(labDir);
    const oss = labRunner(lab, grading, "oss");
    expect(oss.edition).toBe("oss");
    expect(oss.params(3).edition).toBe("oss");
    expect(oss.stages(oss.params(3))[3]!.title).toMatch(/Calico Enterprise and Cloud/);
    expect(oss.guide(2, oss.params(3)).html).toContain("namespaceSelector: global()");
    const ent = labRunner(lab, grading);
    expect(ent.edition).toBe("enterprise");
    expect(ent.guide(2, ent.params(3)).html).toContain("destination.domains");
    // Sessions of different editions never share a prepared cluster.
    expect(oss.variant!(3)).not.toBe(ent.variant!(3));
  });
});
