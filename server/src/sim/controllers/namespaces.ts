/**
 * Every active namespace gets its `default` ServiceAccount (service account controller) and the `kube-root-ca.crt`
 * ConfigMap (root CA publisher).
 */
import { rec, typeOf, type Controller, type ControllerContext } from "./context.ts";

const CA_DESCRIPTION =
  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/** A PEM-shaped placeholder: the simulated cluster's pods never verify TLS with it. */
export const SIM_ROOT_CA =
  "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIZWdyZXNzbGFiMA0GCSqGSIb3DQEBCwUAMBUxEzARBgNV\nBAMTCmt1YmVybmV0ZXMwHhcNMjYwMTAxMDAwMDAwWhcNMzYwMTAxMDAwMDAwWjAV\nMRMwEQYDVQQDEwprdWJlcm5ldGVzMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIB\nCgKCAQEAZWdyZXNzbGFiLXNpbXVsYXRlZC1jbHVzdGVyLXJvb3QtY2EtcGxhY2Vo\nb2xkZXI=\n-----END CERTIFICATE-----\n";

export function namespaceController(ctx: ControllerContext): Controller {
  return {
    name: "namespace",
    watches: ["core/namespaces", "core/serviceaccounts", "core/configmaps"],
    sync() {
      const sa = typeOf(ctx, "core/serviceaccounts");
      const cm = typeOf(ctx, "core/configmaps");
      const nsType = typeOf(ctx, "core/namespaces");
      for (const ns of ctx.store.list("core/namespaces")) {
        if (rec(ns.status).phase === "Terminating") {
          // Finishes a deletion that a restart interrupted (a no-op while one is under way).
          ctx.api.delete(nsType, undefined, ns.metadata.name);
          continue;
        }
        const name = ns.metadata.name;
        if (!ctx.store.get("core/serviceaccounts", name, "default"))
          ctx.api.createStored(sa, name, {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: "default" },
          });
        if (!ctx.store.get("core/configmaps", name, "kube-root-ca.crt"))
          ctx.api.createStored(cm, name, {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
              name: "kube-root-ca.crt",
              annotations: { "kubernetes.io/description": CA_DESCRIPTION },
            },
            data: { "ca.crt": SIM_ROOT_CA },
          });
      }
    },
  };
}
