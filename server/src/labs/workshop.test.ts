/** The shipped workshop loads cleanly for every session, and its cluster profile carries the same demo shop. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { loadLab, renderGuide, renderStage, sessionParams, stageSummaries } from "./index.ts";
import { paramVariants } from "./model/params.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const labDir = path.join(root, "labs/egress-workshop");

describe("the egress workshop", () => {
  it("loads, and renders every stage for every parameter choice", async () => {
    const lab = await loadLab(labDir);
    expect(lab.stages.map((s) => s.id)).toEqual([
      "00-map-exposure",
      "01-default-deny",
      "02-dns-allowlists",
      "03-egress-gateway",
      "04-detect-and-respond",
    ]);
    for (const params of paramVariants(lab.params)) {
      for (const s of lab.stages) {
        const r = renderStage(lab, s.index, params);
        expect(JSON.stringify(r)).not.toMatch(/\{\{/);
        expect(r.wrong.length, `${s.id} has wrong solutions`).toBeGreaterThan(0);
        const guide = renderGuide(lab, s.index, params);
        expect(
          guide.actions.some((a) => a.kind === "check"),
          `${s.id} has a check button`,
        ).toBe(true);
      }
    }
    const summaries = stageSummaries(lab, sessionParams(lab, 1));
    expect(summaries[0]!.questions.map((q) => q.id)).toEqual(["external", "suspect", "c2"]);
  });

  it("has a cluster profile with stage 0's shop, less the per-session beacon", () => {
    const objects = (text: string) =>
      parseAllDocuments(text)
        .map((d) => d.toJS() as { kind: string; metadata: { name: string } })
        .filter((o) => o && o.kind !== "ClusterProfile");
    const setup = readFileSync(path.join(labDir, "00-map-exposure/setup/shop.yaml"), "utf8")
      .split("\n")
      .filter((l) => !l.includes("Beacon }}"))
      .join("\n");
    const profile = readFileSync(path.join(root, "clusters/egress-workshop.yaml"), "utf8");
    expect(objects(profile)).toEqual(objects(setup));
    expect(profile).toMatch(/include: \[bare\]/);
  });
});
