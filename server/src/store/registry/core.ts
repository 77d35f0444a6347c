/**
 * The core (`v1`), `apps/v1`, `discovery.k8s.io/v1`, `events.k8s.io/v1`, `networking.k8s.io/v1` and `policy/v1` kinds, with the
 * Table columns of the real server's printers (`pkg/printers/internalversion/printers.go`).
 */
import type { KubeObject, ResourceType, TableColumn } from "../types.ts";
import { k8sKindSchema } from "./k8s.ts";
import {
  ageColumn,
  ageOf,
  asArray,
  asRecord,
  col,
  field,
  formatLabelSelector,
  formatMapSelector,
  type Now,
} from "./columns.ts";

const rw = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function kind(
  group: string,
  version: string,
  k: string,
  plural: string,
  model: string,
  opts: {
    namespaced: boolean;
    shortNames?: string[];
    categories?: string[];
    subresources?: string[];
    columns: TableColumn[];
    verbs?: string[];
  },
): ResourceType {
  return {
    group,
    version,
    kind: k,
    listKind: `${k}List`,
    plural,
    singular: k.toLowerCase(),
    namespaced: opts.namespaced,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    verbs: opts.verbs ?? rw,
    subresources: opts.subresources ?? [],
    schema: k8sKindSchema(model, group, version, k),
    columns: opts.columns,
  };
}

const containerStatuses = (o: KubeObject) => asArray(field(o, "status", "containerStatuses")).map(asRecord);

/** `printPod`'s STATUS column: the phase, or the reason of the first waiting/terminated container, or Terminating. */
export function podStatusReason(o: KubeObject): string {
  let reason = String(field(o, "status", "reason") ?? field(o, "status", "phase") ?? "Pending");
  for (const cs of containerStatuses(o)) {
    const waiting = asRecord(asRecord(cs.state).waiting);
    const terminated = asRecord(asRecord(cs.state).terminated);
    if (typeof waiting.reason === "string" && waiting.reason) reason = waiting.reason;
    else if (typeof terminated.reason === "string" && terminated.reason) reason = terminated.reason;
  }
  if (o.metadata.deletionTimestamp) reason = "Terminating";
  return reason;
}

function podColumns(now: Now): TableColumn[] {
  return [
    col(
      "Ready",
      "string",
      (o) => {
        const total = asArray(field(o, "spec", "containers")).length;
        const ready = containerStatuses(o).filter((c) => c.ready === true).length;
        return `${ready}/${total}`;
      },
      { description: "The aggregate readiness state of this pod for accepting traffic." },
    ),
    col("Status", "string", podStatusReason, {
      description: "The aggregate status of the containers in this pod.",
    }),
    col(
      "Restarts",
      "string",
      (o) => {
        const n = containerStatuses(o).reduce(
          (a, c) => a + (typeof c.restartCount === "number" ? c.restartCount : 0),
          0,
        );
        return String(n);
      },
      {
        description:
          "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
      },
    ),
    ageColumn(now),
    col("IP", "string", (o) => field(o, "status", "podIP") ?? "<none>", {
      priority: 1,
      description:
        "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    }),
    col("Node", "string", (o) => field(o, "spec", "nodeName") ?? "<none>", {
      priority: 1,
      description: "NodeName is a request to schedule this pod onto a specific node.",
    }),
    col("Nominated Node", "string", (o) => field(o, "status", "nominatedNodeName") ?? "<none>", {
      priority: 1,
      description: "nominatedNodeName is set only when this pod preempts other pods on the node.",
    }),
    col(
      "Readiness Gates",
      "string",
      (o) => {
        const gates = asArray(field(o, "spec", "readinessGates"));
        return gates.length ? `0/${gates.length}` : "<none>";
      },
      { priority: 1, description: "If specified, all readiness gates will be evaluated for pod readiness." },
    ),
  ];
}

const containerNames = (o: KubeObject) =>
  asArray(field(o, "spec", "template", "spec", "containers"))
    .map((c) => String(asRecord(c).name))
    .join(",");
const containerImages = (o: KubeObject) =>
  asArray(field(o, "spec", "template", "spec", "containers"))
    .map((c) => String(asRecord(c).image))
    .join(",");
const num = (v: unknown) => (typeof v === "number" ? v : 0);

function workloadWide(): TableColumn[] {
  return [
    col("Containers", "string", containerNames, {
      priority: 1,
      description: "Names of each container in the template.",
    }),
    col("Images", "string", containerImages, {
      priority: 1,
      description: "Images referenced by each container in the template.",
    }),
    col("Selector", "string", (o) => formatLabelSelector(field(o, "spec", "selector")), {
      priority: 1,
      description: "Label selector for pods.",
    }),
  ];
}

function servicePorts(o: KubeObject): string {
  const ports = asArray(field(o, "spec", "ports")).map(asRecord);
  if (!ports.length) return "<none>";
  return ports
    .map(
      (p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ""}/${String(p.protocol ?? "TCP")}`,
    )
    .join(",");
}

function externalIP(o: KubeObject): string {
  const type = String(field(o, "spec", "type") ?? "ClusterIP");
  const ext = asArray(field(o, "spec", "externalIPs")).map(String);
  if (type === "ExternalName") return String(field(o, "spec", "externalName") ?? "<none>");
  if (type === "LoadBalancer") {
    const ing = asArray(field(o, "status", "loadBalancer", "ingress")).map((i) =>
      String(asRecord(i).ip ?? asRecord(i).hostname),
    );
    const all = [...ing, ...ext];
    return all.length ? all.join(",") : "<pending>";
  }
  return ext.length ? ext.join(",") : "<none>";
}

function nodeStatus(o: KubeObject): string {
  const conds = asArray(field(o, "status", "conditions")).map(asRecord);
  const ready = conds.find((c) => c.type === "Ready");
  const parts = [ready ? (ready.status === "True" ? "Ready" : "NotReady") : "Unknown"];
  if (field(o, "spec", "unschedulable") === true) parts.push("SchedulingDisabled");
  return parts.join(",");
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .filter(Boolean)
    .sort();
  return roles.length ? roles.join(",") : "<none>";
}

function nodeAddress(o: KubeObject, type: string): string {
  const a = asArray(field(o, "status", "addresses"))
    .map(asRecord)
    .find((x) => x.type === type);
  return a ? String(a.address) : "<none>";
}

function endpointsSummary(o: KubeObject): string {
  const out: string[] = [];
  for (const s of asArray(o.subsets).map(asRecord)) {
    const ports = asArray(s.ports).map(asRecord);
    for (const a of asArray(s.addresses).map(asRecord)) {
      if (!ports.length) out.push(String(a.ip));
      for (const p of ports) out.push(`${String(a.ip)}:${String(p.port)}`);
    }
  }
  if (!out.length) return "<none>";
  const shown = out.slice(0, 3).join(",");
  return out.length > 3 ? `${shown} + ${out.length - 3} more...` : shown;
}

function sliceEndpoints(o: KubeObject): string {
  const ips = asArray(o.endpoints).flatMap((e) => asArray(asRecord(e).addresses).map(String));
  if (!ips.length) return "<unset>";
  const shown = ips.slice(0, 3).join(",");
  return ips.length > 3 ? `${shown} + ${ips.length - 3} more...` : shown;
}

function slicePorts(o: KubeObject): string {
  const ports = asArray(o.ports).map((p) => String(asRecord(p).port ?? ""));
  if (!ports.length) return "<unset>";
  const shown = ports.slice(0, 3).join(",");
  return ports.length > 3 ? `${shown} + ${ports.length - 3} more...` : shown;
}

function eventObject(o: KubeObject): string {
  const io = asRecord(o.involvedObject ?? o.regarding);
  return `${String(io.kind ?? "").toLowerCase()}/${String(io.name ?? "")}`;
}

function eventLastSeen(o: KubeObject, now: number): string {
  const ts = (o.lastTimestamp ??
    o.eventTime ??
    asRecord(o.series).lastObservedTime ??
    o.metadata.creationTimestamp) as string | undefined;
  return ageOf(ts, now);
}

/** `formatHosts`: the rules' hosts, `*` for none, at most three then `+ N more...`. */
function ingressHosts(o: KubeObject): string {
  const hosts = asArray(field(o, "spec", "rules"))
    .map((r) => asRecord(r).host)
    .filter((h): h is string => typeof h === "string" && h !== "");
  if (!hosts.length) return "*";
  const shown = hosts.slice(0, 3).join(",");
  return hosts.length > 3 ? `${shown} + ${hosts.length - 3} more...` : shown;
}

/** `ingressLoadBalancerStatusStringer`: the load balancer's IPs and host names. */
function ingressAddress(o: KubeObject): string {
  return asArray(field(o, "status", "loadBalancer", "ingress"))
    .map((i) => asRecord(i).ip ?? asRecord(i).hostname)
    .filter((a): a is string => typeof a === "string" && a !== "")
    .join(",");
}

const intOrPercentText = (v: unknown): string =>
  typeof v === "number" || typeof v === "string" ? String(v) : "N/A";

/** `GetAccessModesAsString`: the modes' short names, in upstream's fixed order, comma-separated. */
function accessModesText(modes: unknown[]): string {
  const short: [string, string][] = [
    ["ReadWriteOnce", "RWO"],
    ["ReadOnlyMany", "ROX"],
    ["ReadWriteMany", "RWX"],
    ["ReadWriteOncePod", "RWOP"],
  ];
  return short
    .filter(([m]) => modes.includes(m))
    .map(([, s]) => s)
    .join(",");
}

/** `printPersistentVolumeClaim`: capacity and access modes come from the status once a volume is bound. */
function pvcBound(o: KubeObject): boolean {
  const v = field(o, "spec", "volumeName");
  return typeof v === "string" && v !== "";
}

export function coreTypes(now: Now): ResourceType[] {
  const age = ageColumn(now);
  return [
    kind("", "v1", "Namespace", "namespaces", "V1Namespace", {
      namespaced: false,
      shortNames: ["ns"],
      subresources: ["status", "finalize"],
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
      columns: [
        col("Status", "string", (o) => field(o, "status", "phase") ?? "Active", {
          description: "The status of the namespace",
        }),
        age,
      ],
    }),
    kind("", "v1", "Node", "nodes", "V1Node", {
      namespaced: false,
      shortNames: ["no"],
      subresources: ["status", "proxy"],
      columns: [
        col("Status", "string", nodeStatus, { description: "The status of the node" }),
        col("Roles", "string", nodeRoles, { description: "The roles of the node" }),
        age,
        col("Version", "string", (o) => field(o, "status", "nodeInfo", "kubeletVersion") ?? "", {
          description: "Kubelet Version reported by the node.",
        }),
        col("Internal-IP", "string", (o) => nodeAddress(o, "InternalIP"), {
          priority: 1,
          description: "List of internal IPs for the node.",
        }),
        col("External-IP", "string", (o) => nodeAddress(o, "ExternalIP"), {
          priority: 1,
          description: "List of external IPs for the node.",
        }),
        col("OS-Image", "string", (o) => field(o, "status", "nodeInfo", "osImage") ?? "<unknown>", {
          priority: 1,
          description:
            "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        }),
        col(
          "Kernel-Version",
          "string",
          (o) => field(o, "status", "nodeInfo", "kernelVersion") ?? "<unknown>",
          {
            priority: 1,
            description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
          },
        ),
        col(
          "Container-Runtime",
          "string",
          (o) => field(o, "status", "nodeInfo", "containerRuntimeVersion") ?? "<unknown>",
          {
            priority: 1,
            description:
              "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
          },
        ),
      ],
    }),
    kind("", "v1", "Pod", "pods", "V1Pod", {
      namespaced: true,
      shortNames: ["po"],
      categories: ["all"],
      subresources: [
        "status",
        "exec",
        "log",
        "attach",
        "portforward",
        "proxy",
        "binding",
        "eviction",
        "ephemeralcontainers",
        "resize",
      ],
      columns: podColumns(now),
    }),
    kind("", "v1", "Service", "services", "V1Service", {
      namespaced: true,
      shortNames: ["svc"],
      categories: ["all"],
      subresources: ["status", "proxy"],
      verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      columns: [
        col("Type", "string", (o) => field(o, "spec", "type") ?? "ClusterIP", {
          description: "type determines how the Service is exposed.",
        }),
        col("Cluster-IP", "string", (o) => field(o, "spec", "clusterIP") ?? "<none>", {
          description: "clusterIP is the IP address of the service and is usually assigned randomly.",
        }),
        col("External-IP", "string", externalIP, {
          description:
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
        }),
        col("Port(s)", "string", servicePorts, {
          description: "The list of ports that are exposed by this service.",
        }),
        age,
        col("Selector", "string", (o) => formatMapSelector(field(o, "spec", "selector")), {
          priority: 1,
          description: "Route service traffic to pods with label keys and values matching this selector.",
        }),
      ],
    }),
    kind("", "v1", "Endpoints", "endpoints", "V1Endpoints", {
      namespaced: true,
      shortNames: ["ep"],
      columns: [
        col("Endpoints", "string", endpointsSummary, {
          description: "Endpoints is the list of endpoints in the subset.",
        }),
        age,
      ],
    }),
    kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "V1EndpointSlice", {
      namespaced: true,
      columns: [
        col("AddressType", "string", (o) => o.addressType ?? "", {
          description: "addressType specifies the type of address carried by this EndpointSlice.",
        }),
        col("Ports", "string", slicePorts, {
          description: "ports specifies the list of network ports exposed by each endpoint in this slice.",
        }),
        col("Endpoints", "string", sliceEndpoints, {
          description: "endpoints is a list of unique endpoints in this slice.",
        }),
        age,
      ],
    }),
    kind("apps", "v1", "Deployment", "deployments", "V1Deployment", {
      namespaced: true,
      shortNames: ["deploy"],
      categories: ["all"],
      subresources: ["status", "scale"],
      columns: [
        col(
          "Ready",
          "string",
          (o) => `${num(field(o, "status", "readyReplicas"))}/${num(field(o, "spec", "replicas"))}`,
          { description: "Number of the pod with ready state" },
        ),
        col("Up-to-date", "integer", (o) => num(field(o, "status", "updatedReplicas")), {
          description:
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        }),
        col("Available", "integer", (o) => num(field(o, "status", "availableReplicas")), {
          description:
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        }),
        age,
        ...workloadWide(),
      ],
    }),
    kind("apps", "v1", "ReplicaSet", "replicasets", "V1ReplicaSet", {
      namespaced: true,
      shortNames: ["rs"],
      categories: ["all"],
      subresources: ["status", "scale"],
      columns: [
        col("Desired", "integer", (o) => num(field(o, "spec", "replicas")), {
          description: "Replicas is the number of desired replicas.",
        }),
        col("Current", "integer", (o) => num(field(o, "status", "replicas")), {
          description: "Replicas is the most recently observed number of replicas.",
        }),
        col("Ready", "integer", (o) => num(field(o, "status", "readyReplicas")), {
          description: "The number of ready replicas for this replica set.",
        }),
        age,
        ...workloadWide(),
      ],
    }),
    kind("apps", "v1", "DaemonSet", "daemonsets", "V1DaemonSet", {
      namespaced: true,
      shortNames: ["ds"],
      categories: ["all"],
      subresources: ["status"],
      columns: [
        col("Desired", "integer", (o) => num(field(o, "status", "desiredNumberScheduled")), {
          description: "The total number of nodes that should be running the daemon pod.",
        }),
        col("Current", "integer", (o) => num(field(o, "status", "currentNumberScheduled")), {
          description:
            "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
        }),
        col("Ready", "integer", (o) => num(field(o, "status", "numberReady")), {
          description:
            "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
        }),
        col("Up-to-date", "integer", (o) => num(field(o, "status", "updatedNumberScheduled")), {
          description: "The total number of nodes that are running updated daemon pod",
        }),
        col("Available", "integer", (o) => num(field(o, "status", "numberAvailable")), {
          description:
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
        }),
        col(
          "Node Selector",
          "string",
          (o) => formatMapSelector(field(o, "spec", "template", "spec", "nodeSelector")),
          { description: "NodeSelector is a selector which must be true for the pod to fit on a node." },
        ),
        age,
        ...workloadWide(),
      ],
    }),
    kind("", "v1", "ServiceAccount", "serviceaccounts", "V1ServiceAccount", {
      namespaced: true,
      shortNames: ["sa"],
      subresources: ["token"],
      columns: [
        col("Secrets", "integer", (o) => asArray(o.secrets).length, {
          description:
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
        }),
        age,
      ],
    }),
    kind("", "v1", "ConfigMap", "configmaps", "V1ConfigMap", {
      namespaced: true,
      shortNames: ["cm"],
      columns: [
        col(
          "Data",
          "integer",
          (o) => Object.keys(asRecord(o.data)).length + Object.keys(asRecord(o.binaryData)).length,
          { description: "Data contains the configuration data." },
        ),
        age,
      ],
    }),
    kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "V1PersistentVolumeClaim", {
      namespaced: true,
      shortNames: ["pvc"],
      subresources: ["status"],
      columns: [
        col(
          "Status",
          "string",
          (o) => (o.metadata.deletionTimestamp ? "Terminating" : (field(o, "status", "phase") ?? "")),
          { description: "Status of the persistent volume claim." },
        ),
        col("Volume", "string", (o) => field(o, "spec", "volumeName") ?? "", {
          description: "volumeName is the binding reference to the PersistentVolume backing this claim.",
        }),
        col(
          "Capacity",
          "string",
          (o) => (pvcBound(o) ? String(field(o, "status", "capacity", "storage") ?? "0") : ""),
          {
            description:
              "Requests describes the minimum amount of compute resources required. If Requests is omitted for a container, it defaults to Limits if that is explicitly specified, otherwise to an implementation-defined value. Requests cannot exceed Limits. More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
          },
        ),
        col(
          "Access Modes",
          "string",
          (o) => (pvcBound(o) ? accessModesText(asArray(field(o, "status", "accessModes"))) : ""),
          {
            description:
              "accessModes contains the desired access modes the volume should have. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
          },
        ),
        col(
          "StorageClass",
          "string",
          (o) =>
            asRecord(o.metadata.annotations)["volume.beta.kubernetes.io/storage-class"] ??
            field(o, "spec", "storageClassName") ??
            "",
          { description: "StorageClass of the pvc" },
        ),
        col(
          "VolumeAttributesClass",
          "string",
          (o) => field(o, "spec", "volumeAttributesClassName") ?? "<unset>",
          {
            description: "VolumeAttributesClass of the pvc",
          },
        ),
        age,
        col("VolumeMode", "string", (o) => field(o, "spec", "volumeMode") ?? "<unset>", {
          priority: 1,
          description:
            "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
        }),
      ],
    }),
    kind("", "v1", "Secret", "secrets", "V1Secret", {
      namespaced: true,
      columns: [
        col("Type", "string", (o) => o.type ?? "Opaque", {
          description: "Used to facilitate programmatic handling of secret data.",
        }),
        col("Data", "integer", (o) => Object.keys(asRecord(o.data)).length, {
          description: "Data contains the secret data.",
        }),
        age,
      ],
    }),
    kind("", "v1", "Event", "events", "CoreV1Event", {
      namespaced: true,
      shortNames: ["ev"],
      columns: [
        col("Last Seen", "string", (o) => eventLastSeen(o, now()), {
          description: "The time at which the most recent occurrence of this event was recorded.",
        }),
        col("Type", "string", (o) => o.type ?? "", {
          description: "Type of this event (Normal, Warning), new types could be added in the future",
        }),
        col("Reason", "string", (o) => o.reason ?? "", {
          description:
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        }),
        col("Object", "string", eventObject, { description: "The object that this event is about." }),
        col("Subobject", "string", (o) => asRecord(o.involvedObject).fieldPath ?? "", {
          priority: 1,
          description: "The subobject that this event is about.",
        }),
        col(
          "Source",
          "string",
          (o) => {
            const s = asRecord(o.source);
            return s.component
              ? `${String(s.component)}${s.host ? `, ${String(s.host)}` : ""}`
              : String(o.reportingComponent ?? "");
          },
          { priority: 1, description: "The component reporting this event." },
        ),
        col("Message", "string", (o) => o.message ?? "", {
          description: "A human-readable description of the status of this operation.",
        }),
        col(
          "First Seen",
          "string",
          (o) => ageOf((o.firstTimestamp ?? o.eventTime) as string | undefined, now()),
          { priority: 1, description: "The time at which the event was first recorded." },
        ),
        col("Count", "integer", (o) => o.count ?? 1, {
          priority: 1,
          description: "The number of times this event has occurred.",
        }),
        col("Name", "string", (o) => o.metadata.name, {
          priority: 1,
          description: "Name must be unique within a namespace.",
        }),
      ],
    }),
    kind("events.k8s.io", "v1", "Event", "events", "EventsV1Event", {
      namespaced: true,
      shortNames: ["ev"],
      columns: [
        col("Last Seen", "string", (o) => eventLastSeen(o, now()), {
          description: "The time at which the most recent occurrence of this event was recorded.",
        }),
        col("Type", "string", (o) => o.type ?? "", { description: "Type of this event (Normal, Warning)." }),
        col("Reason", "string", (o) => o.reason ?? "", { description: "Why the action was taken." }),
        col("Object", "string", eventObject, { description: "The object that this event is about." }),
        col("Message", "string", (o) => o.note ?? "", {
          description: "A human-readable description of the status of this operation.",
        }),
      ],
    }),
    kind("networking.k8s.io", "v1", "Ingress", "ingresses", "V1Ingress", {
      namespaced: true,
      shortNames: ["ing"],
      subresources: ["status"],
      columns: [
        col("Class", "string", (o) => field(o, "spec", "ingressClassName") ?? "<none>", {
          description: "The name of the IngressClass resource that should be used for this Ingress.",
        }),
        col("Hosts", "string", ingressHosts, {
          description: "Hosts that incoming requests are matched against.",
        }),
        col("Address", "string", ingressAddress, {
          description: "Address is a list containing ingress points for the load-balancer",
        }),
        col("Ports", "string", (o) => (asArray(field(o, "spec", "tls")).length ? "80, 443" : "80"), {
          description: "Ports of TLS configurations that open",
        }),
        age,
      ],
    }),
    kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "V1PodDisruptionBudget", {
      namespaced: true,
      shortNames: ["pdb"],
      subresources: ["status"],
      columns: [
        col("Min Available", "string", (o) => intOrPercentText(field(o, "spec", "minAvailable")), {
          description: "The minimum number or percentage of available pods this budget requires.",
        }),
        col("Max Unavailable", "string", (o) => intOrPercentText(field(o, "spec", "maxUnavailable")), {
          description: "The maximum number or percentage of unavailable pods this budget requires.",
        }),
        col("Allowed Disruptions", "integer", (o) => field(o, "status", "disruptionsAllowed") ?? 0, {
          description: "Number of pod disruptions that are currently allowed.",
        }),
        age,
      ],
    }),
    kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "V1NetworkPolicy", {
      namespaced: true,
      shortNames: ["netpol"],
      columns: [
        col(
          "Pod-Selector",
          "string",
          (o) => {
            const s = formatLabelSelector(field(o, "spec", "podSelector"));
            return s === "<none>" ? "<none>" : s;
          },
          { description: "podSelector selects the pods to which this NetworkPolicy object applies." },
        ),
        age,
      ],
    }),
  ];
}
