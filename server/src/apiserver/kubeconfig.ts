/** The kubeconfig (YAML text) that lets kubectl and client-node talk to one simulated cluster. */
import { stringify } from "yaml";

export function renderKubeconfig(opts: {
  name: string;
  server: string;
  caCert: string;
  token: string;
  namespace?: string;
}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: opts.name,
        cluster: {
          server: opts.server,
          "certificate-authority-data": Buffer.from(opts.caCert).toString("base64"),
        },
      },
    ],
    users: [{ name: opts.name, user: { token: opts.token } }],
    contexts: [
      {
        name: opts.name,
        context: { cluster: opts.name, user: opts.name, namespace: opts.namespace ?? "default" },
      },
    ],
    "current-context": opts.name,
    preferences: {},
  });
}
