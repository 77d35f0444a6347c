/** The kubeconfig pool provider on real files: lease, exhaustion, release, persistence across restarts, bad files. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCmder } from "../../server/src/providers/cmd.ts";
import { createKubeconfigProvider } from "../../server/src/providers/kubeconfig/provider.ts";
import { EgresslabError, ValidationError } from "../../server/src/shared/errors.ts";

let dir: string;
let pool: string;
let data: string;

const kubeconfig = (name: string, extra = ""): string => `apiVersion: v1
kind: Config
clusters: [{name: ${name}, cluster: {server: "https://${name}.example:6443", certificate-authority: ca.crt}}]
users: [{name: ${name}-admin, user: {token: token-${name}}}]
contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}-admin}}]
current-context: ${name}
${extra}`;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-pool-"));
  pool = path.join(dir, "pool");
  data = path.join(dir, "data");
  await mkdir(pool);
  await writeFile(
    path.join(pool, "ca.crt"),
    "-----BEGIN CERTIFICATE-----\nFAKE\n-----END CERTIFICATE-----\n",
  );
  await writeFile(path.join(pool, "c1.yaml"), kubeconfig("c1"));
  await writeFile(
    path.join(pool, "c2.yaml"),
    kubeconfig("c2", "extensions:\n- name: egresslab\n  extension: {calicoEdition: enterprise}\n"),
  );
  await writeFile(path.join(pool, "README.md"), "not a kubeconfig\n");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const now = () => new Date("2026-01-01T10:00:00Z");

describe("kubeconfig pool provider", () => {
  it("leases one cluster per attendee, returns the same one again, and says clearly when the pool is exhausted", async () => {
    const p = await createKubeconfigProvider({ dir: pool, dataDir: data, now });
    expect(p.capabilities).toMatchObject({
      canCreate: false,
      realDataplane: true,
      calicoEdition: "enterprise",
    });
    const a = await p.acquire({ id: "alice" });
    const b = await p.acquire({ id: "bob" });
    expect(a.kubeconfig).toContain("https://c1.example:6443");
    expect(b.kubeconfig).toContain("https://c2.example:6443");
    expect([a.edition, b.edition]).toEqual(["oss", "enterprise"]);
    expect(await p.acquire({ id: "alice" })).toEqual(a);
    const err = await p.acquire({ id: "carol" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EgresslabError);
    expect((err as Error).message).toBe(
      `all 2 clusters in the kubeconfig pool are leased: add kubeconfig files to ${pool} and restart, or free one with \`egresslab clusters delete --provider kubeconfig --id ID\` (ids: \`egresslab clusters list\`)`,
    );
    await p.release("alice");
    await p.release("nobody");
    expect((await p.acquire({ id: "carol" })).kubeconfig).toContain("https://c1.example:6443");
  });

  it("never hands one cluster to two attendees acquiring at once", async () => {
    const p = await createKubeconfigProvider({ dir: pool, dataDir: data });
    const results = await Promise.allSettled(["a", "b", "c"].map((id) => p.acquire({ id })));
    const servers = results
      .filter((r) => r.status === "fulfilled")
      .map((r) => /server: (\S+)/.exec(r.value.kubeconfig)?.[1]);
    expect(servers.sort()).toEqual(["https://c1.example:6443", "https://c2.example:6443"]);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
  });

  it("prefers a free cluster of the requested edition", async () => {
    const p = await createKubeconfigProvider({ dir: pool, dataDir: data });
    expect((await p.acquire({ id: "x", edition: "enterprise" })).kubeconfig).toContain("c2.example");
  });

  it("keeps leases across a restart and drops leases of clusters removed from the pool", async () => {
    const first = await createKubeconfigProvider({ dir: pool, dataDir: data, now });
    await first.acquire({ id: "alice" });
    await first.acquire({ id: "bob" });
    await first.close();
    const saved = JSON.parse(await readFile(path.join(data, "kubeconfig-leases.json"), "utf8")) as unknown;
    expect(saved).toEqual({
      version: 1,
      leases: {
        alice: { cluster: "c1", since: "2026-01-01T10:00:00.000Z" },
        bob: { cluster: "c2", since: "2026-01-01T10:00:00.000Z" },
      },
    });
    const second = await createKubeconfigProvider({ dir: pool, dataDir: data });
    expect((await second.acquire({ id: "bob" })).kubeconfig).toContain("c2.example");
    expect((await second.list()).map((c) => c.detail)).toEqual([
      "c1 (oss, https://c1.example:6443): leased to alice since 2026-01-01T10:00:00.000Z",
      "c2 (enterprise, https://c2.example:6443): leased to bob since 2026-01-01T10:00:00.000Z",
    ]);
    await rm(path.join(pool, "c2.yaml"));
    const third = await createKubeconfigProvider({ dir: pool, dataDir: data });
    expect((await third.list()).map((c) => c.id)).toEqual(["alice"]);
    expect(await third.acquire({ id: "dave" }).catch((e: Error) => e.message)).toMatch(
      /all 1 clusters in the kubeconfig pool are leased/,
    );
  });

  it("refuses to start with a broken kubeconfig, naming every broken file", async () => {
    await writeFile(path.join(pool, "broken.yaml"), "apiVersion: v1\nclusters: [\n");
    await writeFile(
      path.join(pool, "nocreds.yaml"),
      kubeconfig("nocreds").replace("{token: token-nocreds}", "{}"),
    );
    const err = (await createKubeconfigProvider({ dir: pool, dataDir: data }).catch(
      (e: unknown) => e,
    )) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.problems.map((p) => `${p.where}: ${p.message}`)).toEqual([
      expect.stringMatching(new RegExp(`^${path.join(pool, "broken.yaml")}: not valid YAML`)),
      `${path.join(pool, "nocreds.yaml")}: user "nocreds-admin" has no credentials (token, client certificate, exec or auth-provider)`,
    ]);
  });

  it("says when the directory is missing or empty, and when a listed file is missing", async () => {
    await expect(createKubeconfigProvider({ dir: path.join(dir, "nope"), dataDir: data })).rejects.toThrow(
      /cannot read the kubeconfig directory: ENOENT/,
    );
    await mkdir(path.join(dir, "empty"));
    await expect(createKubeconfigProvider({ dir: path.join(dir, "empty"), dataDir: data })).rejects.toThrow(
      /no kubeconfig files found/,
    );
    await expect(
      createKubeconfigProvider({ files: [path.join(dir, "gone.yaml")], dataDir: data }),
    ).rejects.toThrow(/gone.yaml: cannot read: ENOENT/);
  });

  it("hands out kubeconfigs that kubectl reads as they are", async () => {
    const cmder = createCmder();
    if (!cmder.which("kubectl")) return;
    const p = await createKubeconfigProvider({ files: [path.join(pool, "c1.yaml")], dataDir: data });
    const conn = await p.acquire({ id: "alice" });
    const file = path.join(dir, "alice.kubeconfig");
    await writeFile(file, conn.kubeconfig);
    const r = await cmder.run("kubectl", [
      "--kubeconfig",
      file,
      "config",
      "view",
      "--raw",
      "-o",
      "jsonpath={.clusters[0].cluster.server} {.users[0].user.token}",
    ]);
    expect(r.stdout).toBe("https://c1.example:6443 token-c1");
  });
});
