/**
 * Renames the cluster, user and context of a one-context kubeconfig, so a cluster kept under another name (e.g. a
 * pre-warmed one assigned in an older data directory) carries its attendee's name.
 */
import { parse, stringify } from "yaml";

type Named = { name?: unknown } & Record<string, unknown>;

export function renameKubeconfig(text: string, name: string): string {
  const kc = parse(text) as Record<string, unknown>;
  const rename = (list: unknown): unknown =>
    Array.isArray(list) ? list.map((e: Named) => ({ ...e, name })) : list;
  const contexts = Array.isArray(kc.contexts)
    ? kc.contexts.map((c: Named) => ({
        ...c,
        name,
        context: { ...(c.context as object), cluster: name, user: name },
      }))
    : kc.contexts;
  return stringify({
    ...kc,
    clusters: rename(kc.clusters),
    users: rename(kc.users),
    contexts,
    "current-context": name,
  });
}
