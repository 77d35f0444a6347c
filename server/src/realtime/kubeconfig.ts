/** Reads what an HTTP client needs from a kubeconfig: the server URL, its CA and the bearer token. */
import { parse } from "yaml";
import { ValidationError } from "../shared/errors.ts";

export interface ClusterEndpoint {
  server: string;
  ca?: string;
  token?: string;
  insecure: boolean;
}

type Named<T> = { name?: string } & T;
interface KubeconfigDoc {
  "current-context"?: string;
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
  clusters?: Named<{
    cluster?: {
      server?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
    };
  }>[];
  users?: Named<{ user?: { token?: string } }>[];
}

export function endpointOf(kubeconfig: string): ClusterEndpoint {
  const doc = (parse(kubeconfig) ?? {}) as KubeconfigDoc;
  const ctx = doc.contexts?.find((c) => c.name === doc["current-context"]) ?? doc.contexts?.[0];
  const cluster = doc.clusters?.find((c) => c.name === ctx?.context?.cluster) ?? doc.clusters?.[0];
  const user = doc.users?.find((u) => u.name === ctx?.context?.user) ?? doc.users?.[0];
  const server = cluster?.cluster?.server;
  if (!server) throw new ValidationError([{ where: "kubeconfig", message: "has no cluster server" }]);
  const caData = cluster.cluster?.["certificate-authority-data"];
  return {
    server: server.replace(/\/+$/, ""),
    ...(caData ? { ca: Buffer.from(caData, "base64").toString("utf8") } : {}),
    ...(user?.user?.token ? { token: user.user.token } : {}),
    insecure: cluster.cluster?.["insecure-skip-tls-verify"] === true,
  };
}
