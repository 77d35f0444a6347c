/** The shipped workshop loads cleanly for every session, and its cluster profile carries the same demo shop. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { loadLab, renderGuide, renderStage, sessionParams, stageSummaries } from "./index.ts";
import { paramVariants } from "./model/params.ts";
import { loadProfile, profileForEdition } from "../sim/profiles.ts";

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
    expect(lab.requirements.editions).toEqual(["enterprise", "oss"]);
    for (const edition of lab.requirements.editions)
      for (const variant of paramVariants(lab.params)) {
        const params = { ...variant, edition };
        for (const s of lab.stages) {
          const r = renderStage(lab, s.index, params);
          expect(JSON.stringify(r)).not.toMatch(/\{\{/);
          const guide = renderGuide(lab, s.index, params);
          // Stage 3 needs egress gateways: on Open Source its guide says so, and nothing runs.
          const guideOnly = edition === "oss" && s.id === "03-egress-gateway";
          expect(r.guideOnly, `${s.id} on ${edition}`).toBe(guideOnly);
          expect(r.wrong.length > 0, `${s.id} on ${edition} has wrong solutions`).toBe(!guideOnly);
          expect(
            guide.actions.some((a) => a.kind === "check"),
            `${s.id} on ${edition} has a check button`,
          ).toBe(!guideOnly);
          // Every wrong solution names the hint the learner must see first.
          for (const w of r.wrong) expect(w.fails).toContain(w.first);
          // Nothing on the Open Source track uses what Calico Open Source lacks.
          if (edition === "oss")
            expect(JSON.stringify([r.solution, r.wrong.map((w) => w.manifests)])).not.toMatch(
              /domains|EgressGateway|egressIPSupport|egress\.projectcalico\.org/,
            );
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
    expect(objects(profile).filter((o) => o.kind !== "GlobalNetworkSet")).toEqual(objects(setup));
    expect(profile).toMatch(/include: \[bare\]/);
    // The Open Source track's network sets: in the profile for oss clusters only, as stage 0 applies them.
    const sets = objects(
      readFileSync(path.join(labDir, "00-map-exposure/oss/setup/network-sets.yaml"), "utf8"),
    );
    const loaded = loadProfile("egress-workshop", path.join(root, "clusters"));
    const own = (e: "oss" | "enterprise") =>
      profileForEdition(loaded, e)
        .objects.filter((o) => o.where.endsWith("egress-workshop.yaml"))
        .map((o) => o.object);
    expect(own("oss").filter((o) => o.kind === "GlobalNetworkSet")).toEqual(sets);
    expect(own("enterprise").some((o) => o.kind === "GlobalNetworkSet")).toBe(false);
  });
});
