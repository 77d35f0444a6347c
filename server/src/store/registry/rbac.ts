/**
 * The `rbac.authorization.k8s.io/v1` kinds (Role, ClusterRole, RoleBinding, ClusterRoleBinding), with the Table columns of
 * the real server's printers (`pkg/printers/internalversion/printers.go`: roles show their creation time, bindings
 * their role and, wide, their subjects).
 */
import type { KubeObject, ResourceType, TableColumn } from "../types.ts";
import { k8sKindSchema } from "./k8s.ts";
import { ageColumn, asArray, asRecord, col, createdAtColumn, field, type Now } from "./columns.ts";

const GROUP = "rbac.authorization.k8s.io";
const rw = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function rbacKind(k: string, plural: string, namespaced: boolean, columns: TableColumn[]): ResourceType {
  return {
    group: GROUP,
    version: "v1",
    kind: k,
    listKind: `${k}List`,
    plural,
    singular: k.toLowerCase(),
    namespaced,
    shortNames: [],
    categories: [],
    verbs: rw,
    subresources: [],
    schema: k8sKindSchema(`V1${k}`, GROUP, "v1", k),
    columns,
  };
}

/** The subjects of a binding of one kind, as `printRoleBinding` lists them. */
function subjects(o: KubeObject, kind: string): string {
  return asArray(o.subjects)
    .map(asRecord)
    .filter((s) => s.kind === kind)
    .map((s) =>
      kind === "ServiceAccount" ? `${String(s.namespace ?? "")}/${String(s.name)}` : String(s.name),
    )
    .join(", ");
}

function bindingColumns(now: Now): TableColumn[] {
  return [
    col(
      "Role",
      "string",
      (o) => `${String(field(o, "roleRef", "kind") ?? "")}/${String(field(o, "roleRef", "name") ?? "")}`,
      {
        description:
          "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
      },
    ),
    ageColumn(now),
    col("Users", "string", (o) => subjects(o, "User"), {
      priority: 1,
      description: "Users in the roleBinding",
    }),
    col("Groups", "string", (o) => subjects(o, "Group"), {
      priority: 1,
      description: "Groups in the roleBinding",
    }),
    col("ServiceAccounts", "string", (o) => subjects(o, "ServiceAccount"), {
      priority: 1,
      description: "ServiceAccounts in the roleBinding",
    }),
  ];
}

export function rbacTypes(now: Now): ResourceType[] {
  return [
    rbacKind("ClusterRoleBinding", "clusterrolebindings", false, bindingColumns(now)),
    rbacKind("ClusterRole", "clusterroles", false, [createdAtColumn()]),
    rbacKind("RoleBinding", "rolebindings", true, bindingColumns(now)),
    rbacKind("Role", "roles", true, [createdAtColumn()]),
  ];
}
