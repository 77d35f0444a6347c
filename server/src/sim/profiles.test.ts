import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "../shared/errors.ts";
import { createSimCluster } from "./cluster.ts";
import { listProfiles, loadProfile } from "./profiles.ts";

const dir = mkdtempSync(path.join(tmpdir(), "egresslab-profiles-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => writeFileSync(path.join(dir, `${name}.yaml`), text);
const header = (name: string, include: string[] = []) =>
  `apiVersion: egresslab.dev/v1\nkind: ClusterProfile\nmetadata: {name: ${name}}\ninclude: [${include.join(", ")}]\n`;

write(
  "base",
  `${header("base")}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: default}\nspec: {order: 1000000}\n`,
);
write(
  "app",
  `${header("app", ["base"])}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n`,
);
write("loop-a", header("loop-a", ["loop-b"]));
write("loop-b", header("loop-b", ["loop-a"]));
write(
  "broken",
  `${header("broken")}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n  bad: indent\n`,
);
write(
  "invalid",
  `${header("invalid", ["base"])}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: default}\n`,
);

write(
  "tracks",
  `${header("tracks", ["base"])}---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: api-stripe, labels: {destination: api-stripe}, annotations: {egresslab.dev/edition: oss, note: kept}}\nspec: {nets: [54.187.174.169/32]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ent, namespace: default, annotations: {egresslab.dev/edition: enterprise}}\n`,
);
write(
  "bad-edition",
  `${header("bad-edition")}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default, annotations: {egresslab.dev/edition: community}}\n`,
);

describe("cluster profiles", () => {
  it("lists profiles and resolves includes, included objects first", () => {
    expect(listProfiles(dir)).toEqual([
      "app",
      "bad-edition",
      "base",
      "broken",
      "invalid",
      "loop-a",
      "loop-b",
      "tracks",
    ]);
    const p = loadProfile("app", dir);
    expect(p.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual([
      "Namespace/default",
      "Tier/default",
      "ConfigMap/cfg",
      "Namespace/shop",
    ]);
    expect(loadProfile("app", dir)).toBe(p);
  });

  it("creates namespaces before what lives in them", async () => {
    const c = await createSimCluster({ id: "p", profile: "app", profilesDir: dir, dataplane: false });
    expect(c.api.get(c.api.findType("cm")!, "shop", "cfg").metadata.namespace).toBe("shop");
    await c.close();
  });

  it("creates an object annotated with an edition only on clusters of that edition, without the annotation", async () => {
    const names = async (edition: "oss" | "enterprise") => {
      const c = await createSimCluster({
        id: `t-${edition}`,
        profile: "tracks",
        profilesDir: dir,
        edition,
        dataplane: false,
      });
      const sets = c.api.list(c.api.findType("globalnetworksets")!, {}).items;
      const cms = c.api.list(c.api.findType("cm")!, {}).items.filter((o) => o.metadata.name === "ent");
      await c.close();
      return { sets, cms };
    };
    const oss = await names("oss");
    expect(oss.sets.map((o) => o.metadata.name)).toEqual(["api-stripe"]);
    expect(oss.sets[0]!.metadata.annotations).toEqual({ note: "kept" });
    expect(oss.cms).toEqual([]);
    const ent = await names("enterprise");
    expect(ent.sets).toEqual([]);
    expect(ent.cms.map((o) => o.metadata.annotations)).toEqual([undefined]);
  });

  it.each([
    [
      "bad-edition",
      /bad-edition\.yaml:\d+: egresslab\.dev\/edition must be oss or enterprise, not "community"/,
    ],
    ["loop-a", /profile include cycle: loop-a -> loop-b -> loop-a/],
    ["broken", /broken\.yaml:\d+/],
    ["missing", /unknown cluster profile "missing"/],
  ])("rejects %s with a located problem", (name, pattern) => {
    let err: unknown;
    try {
      loadProfile(name, dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect(String((err as ValidationError).message)).toMatch(pattern);
  });

  it("reports objects the API rejects with their file and line", async () => {
    await expect(
      createSimCluster({ id: "i", profile: "invalid", profilesDir: dir, dataplane: false }),
    ).rejects.toThrow(
      /invalid\.yaml:5: ConfigMap "Bad_Name": ConfigMap "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name"/,
    );
  });
});
