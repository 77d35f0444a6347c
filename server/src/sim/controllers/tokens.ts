/**
 * The token controller (`pkg/controller/serviceaccount/tokens_controller.go`): a Secret of type
 * `kubernetes.io/service-account-token` that names a ServiceAccount (annotation `kubernetes.io/service-account.name`)
 * gets a long-lived token for it, the namespace and the API server's CA (`token`, `namespace`, `ca.crt`), and the
 * ServiceAccount's uid as an annotation. A Secret whose ServiceAccount does not exist (or is another one by now: the
 * uid differs) is deleted.
 */
import { ensureKey, mintLegacyToken } from "../tokens.ts";
import { isApiError, rec, typeOf, type Controller, type ControllerContext } from "./context.ts";
import { SIM_ROOT_CA } from "./namespaces.ts";

const TOKEN_TYPE = "kubernetes.io/service-account-token";
const NAME = "kubernetes.io/service-account.name";
const UID = "kubernetes.io/service-account.uid";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

export function tokenController(ctx: ControllerContext, clusterId: string, apiCa?: string): Controller {
  return {
    name: "serviceaccount-token",
    watches: ["core/secrets", "core/serviceaccounts"],
    sync() {
      const secretType = typeOf(ctx, "core/secrets");
      for (const s of ctx.store.list("core/secrets")) {
        if (s.type !== TOKEN_TYPE || s.metadata.deletionTimestamp) continue;
        const ns = s.metadata.namespace ?? "default";
        const ann = s.metadata.annotations ?? {};
        const saName = ann[NAME] ?? "";
        const sa = saName ? ctx.store.get("core/serviceaccounts", ns, saName) : undefined;
        const saUid = sa?.metadata.uid ?? "";
        if (!sa || (ann[UID] !== undefined && ann[UID] !== saUid)) {
          try {
            ctx.api.delete(secretType, ns, s.metadata.name);
          } catch (err) {
            if (!isApiError(err, 404)) throw err;
          }
          continue;
        }
        const data = rec(s.data);
        if (data.token && data.namespace && data["ca.crt"] && ann[UID] === saUid) continue;
        const key = ensureKey(ctx.api, ctx.store, clusterId);
        const token = mintLegacyToken(key, {
          namespace: ns,
          secretName: s.metadata.name,
          serviceAccount: { name: saName, uid: saUid },
        });
        ctx.api.patchInternal("core/secrets", ns, s.metadata.name, (o) => {
          o.metadata.annotations = { ...o.metadata.annotations, [UID]: saUid };
          const d = { ...rec(o.data) } as Record<string, unknown>;
          d.token ??= b64(token);
          d.namespace ??= b64(ns);
          d["ca.crt"] ??= b64(apiCa ?? SIM_ROOT_CA);
          o.data = d;
        });
      }
    },
  };
}
