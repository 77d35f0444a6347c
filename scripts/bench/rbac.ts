/**
 * The cost of ServiceAccount authentication and RBAC in the simulated API: the same GET with the cluster's admin token
 * (nothing checked) and with the toolbox's token (ES256 check, claims, RBAC over clusters/toolbox.yaml), on a host
 * with 1 and with 50 clusters (a token finds its cluster by its key id, not by trying each), and how long junk
 * tokens (a 900 kB header, a large JWT-looking one) take to be refused.
 */
import https from "node:https";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseAllDocuments } from "yaml";
import { SimHost } from "../../server/src/sim/host.ts";
import { toolboxManifestFile } from "../../server/src/terminal/toolbox.ts";
import { ensureKey, mintBoundToken, ISSUER } from "../../server/src/sim/tokens.ts";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(3)} ms`;

export async function run(): Promise<void> {
  for (const clusters of [1, 50]) {
    const host = await SimHost.start({ port: 0 });
    try {
      let admin = "";
      for (let i = 0; i < clusters; i++) admin = (await host.createCluster({ id: `c${i}` })).token;
      const id = `c${clusters - 1}`;
      const c = host.getCluster(id)!;
      for (const doc of parseAllDocuments(readFileSync(toolboxManifestFile, "utf8"))) {
        const o = doc.toJS() as { apiVersion: string; kind: string; metadata: { namespace?: string } } | null;
        if (!o || o.kind === "Pod") continue;
        const t = c.api
          .types()
          .find(
            (x) => (x.group ? `${x.group}/${x.version}` : x.version) === o.apiVersion && x.kind === o.kind,
          )!;
        try {
          c.api.create(t, t.namespaced ? o.metadata.namespace : undefined, o);
        } catch {
          // Already there (the namespaces of a profile).
        }
      }
      const sa = c.store.get("core/serviceaccounts", "egresslab-toolbox", "toolbox")!;
      const token = mintBoundToken(ensureKey(c.api, c.store, id), {
        namespace: "egresslab-toolbox",
        serviceAccount: { name: "toolbox", uid: sa.metadata.uid! },
        audiences: [ISSUER],
        issuedAt: Math.floor(Date.now() / 1000),
        expirationSeconds: 3600,
      }).token;
      const agent = new https.Agent({ keepAlive: true, ca: host.caCert });
      const get = (p: string, tok: string) =>
        new Promise<number>((resolve, reject) => {
          https
            .get(
              new URL(`/clusters/${id}${p}`, host.url),
              { agent, headers: { Authorization: `Bearer ${tok}` } },
              (res) => {
                res.resume();
                res.on("end", () => resolve(res.statusCode ?? 0));
              },
            )
            .on("error", reject);
        });
      const time = async (n: number, p: string, tok: string, want: number): Promise<number> => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          const status = await get(p, tok);
          out.push(performance.now() - t);
          if (status !== want) throw new Error(`${p}: ${status}, not ${want}`);
        }
        return median(out);
      };
      const path = "/api/v1/namespaces/calico-system/configmaps";
      await time(30, path, admin, 200);
      await time(30, path, token, 200);
      const a = await time(300, path, admin, 200);
      const s = await time(300, path, token, 200);
      const denied = await time(300, "/api/v1/namespaces/default/secrets", token, 403);
      console.log(`${String(clusters).padStart(2)} clusters: GET as admin median ${ms(a)}`);
      console.log(
        `${String(clusters).padStart(2)} clusters: GET with the toolbox token median ${ms(s)} (${(s / a).toFixed(2)}x)`,
      );
      console.log(
        `${String(clusters).padStart(2)} clusters: 403 with the toolbox token median ${ms(denied)}`,
      );
      if (clusters === 1) {
        const huge = await time(5, path, "x".repeat(900_000), 401);
        const jwtish = await time(50, path, `eyJ${"a".repeat(8000)}.b.c`, 401);
        console.log(`401 for a 900 kB token median ${ms(huge)}; for an 8 kB JWT-shaped one ${ms(jwtish)}`);
      }
      agent.destroy();
    } finally {
      await host.close();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
