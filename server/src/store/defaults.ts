/**
 * Defaulting, as the API server (and its admission plugins) fill in what `kubectl get -o yaml` then shows: pod and
 * template defaults, Service defaults, NetworkPolicy `policyTypes`, Calico `types` (spec §A.7) and `tier`.
 */
import type { Random } from "./random.ts";
import type { KubeObject, ResourceKey } from "./types.ts";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function setDefault(o: Rec, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function defaultContainer(c: Rec): void {
  const image = typeof c.image === "string" ? c.image : "";
  const last = image.split("/").pop() ?? "";
  const tagged = last.includes(":") && !last.endsWith(":latest");
  const digest = image.includes("@");
  setDefault(c, "imagePullPolicy", tagged || digest ? "IfNotPresent" : "Always");
  setDefault(c, "terminationMessagePath", "/dev/termination-log");
  setDefault(c, "terminationMessagePolicy", "File");
  setDefault(c, "resources", {});
  for (const p of arr(c.ports)) setDefault(rec(p), "protocol", "TCP");
  for (const e of arr(c.env)) {
    const vf = rec(rec(e).valueFrom);
    if (vf.fieldRef) setDefault(rec(vf.fieldRef), "apiVersion", "v1");
  }
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    if (!c[probe]) continue;
    const p = rec(c[probe]);
    setDefault(p, "timeoutSeconds", 1);
    setDefault(p, "periodSeconds", 10);
    setDefault(p, "successThreshold", 1);
    setDefault(p, "failureThreshold", 3);
    if (p.httpGet) setDefault(rec(p.httpGet), "scheme", "HTTP");
  }
}

/** `SetDefaults_PodSpec` and the container defaults: what a pod template gets. */
export function defaultPodSpec(spec: Rec): void {
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) defaultContainer(rec(c));
  for (const v of arr(spec.volumes)) {
    const vol = rec(v);
    if (vol.configMap) setDefault(rec(vol.configMap), "defaultMode", 420);
    if (vol.secret) setDefault(rec(vol.secret), "defaultMode", 420);
    if (vol.hostPath) setDefault(rec(vol.hostPath), "type", "");
  }
}

/** What a bare Pod gets in addition: service account admission, default tolerations, priority. */
function defaultPod(pod: KubeObject, rand: Random): void {
  const spec = rec(pod.spec);
  pod.spec = spec;
  defaultPodSpec(spec);
  setDefault(spec, "enableServiceLinks", true);
  setDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
  setDefault(spec, "priority", 0);
  if (!spec.serviceAccountName && spec.serviceAccount) spec.serviceAccountName = spec.serviceAccount;
  setDefault(spec, "serviceAccountName", "default");
  spec.serviceAccount = spec.serviceAccountName;
  const tolerations = arr(spec.tolerations).map(rec);
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    if (!tolerations.some((t) => t.key === key))
      tolerations.push({ effect: "NoExecute", key, operator: "Exists", tolerationSeconds: 300 });
  }
  spec.tolerations = tolerations;
  if (spec.automountServiceAccountToken !== false && !spec.hostNetwork) {
    const volumes = arr(spec.volumes).map(rec);
    if (!volumes.some((v) => String(v.name).startsWith("kube-api-access-"))) {
      const name = `kube-api-access-${rand.string(5)}`;
      volumes.push({
        name,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { items: [{ key: "ca.crt", path: "ca.crt" }], name: "kube-root-ca.crt" } },
            {
              downwardAPI: {
                items: [
                  { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" }, path: "namespace" },
                ],
              },
            },
          ],
        },
      });
      spec.volumes = volumes;
      for (const c of arr(spec.containers).map(rec)) {
        const mounts = arr(c.volumeMounts).map(rec);
        mounts.push({ mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", name, readOnly: true });
        c.volumeMounts = mounts;
      }
    }
  }
  const status = rec(pod.status);
  pod.status = status;
  setDefault(status, "phase", "Pending");
  setDefault(status, "qosClass", "BestEffort");
}

function defaultTemplate(o: KubeObject): void {
  const spec = rec(o.spec);
  const template = rec(spec.template);
  spec.template = template;
  const tspec = rec(template.spec);
  template.spec = tspec;
  defaultPodSpec(tspec);
  const tmeta = rec(template.metadata);
  template.metadata = tmeta;
}

function defaultService(svc: KubeObject): void {
  const spec = rec(svc.spec);
  svc.spec = spec;
  setDefault(spec, "type", "ClusterIP");
  setDefault(spec, "sessionAffinity", "None");
  if (spec.type !== "ExternalName") {
    setDefault(spec, "ipFamilies", ["IPv4"]);
    setDefault(spec, "ipFamilyPolicy", "SingleStack");
    setDefault(spec, "internalTrafficPolicy", "Cluster");
  }
  if (spec.type === "NodePort" || spec.type === "LoadBalancer")
    setDefault(spec, "externalTrafficPolicy", "Cluster");
  if (spec.type === "LoadBalancer") setDefault(spec, "allocateLoadBalancerNodePorts", true);
  for (const p of arr(spec.ports).map(rec)) {
    setDefault(p, "protocol", "TCP");
    setDefault(p, "targetPort", p.port);
  }
  const status = rec(svc.status);
  svc.status = status;
  setDefault(status, "loadBalancer", {});
}

/** Calico `types` defaulting (§A.7) for NP, GNP, SNP and SGNP. */
export function defaultCalicoTypes(spec: Rec): void {
  if (arr(spec.types).length) return;
  const ing = arr(spec.ingress).length > 0;
  const eg = arr(spec.egress).length > 0;
  spec.types = ing && eg ? ["Ingress", "Egress"] : eg ? ["Egress"] : ["Ingress"];
}

function defaultK8sNetworkPolicy(spec: Rec): void {
  setDefault(spec, "podSelector", {});
  if (!arr(spec.policyTypes).length) {
    spec.policyTypes = arr(spec.egress).length ? ["Ingress", "Egress"] : ["Ingress"];
  }
  for (const r of [...arr(spec.ingress), ...arr(spec.egress)].map(rec))
    for (const p of arr(r.ports).map(rec)) setDefault(p, "protocol", "TCP");
}

const calicoPolicies = new Set([
  "projectcalico.org/networkpolicies",
  "projectcalico.org/globalnetworkpolicies",
  "projectcalico.org/stagednetworkpolicies",
  "projectcalico.org/stagedglobalnetworkpolicies",
]);

/** Applies the defaults of `key` to `obj` in place. */
export function applyDefaults(key: ResourceKey, obj: KubeObject, rand: Random): void {
  switch (key) {
    case "core/pods":
      defaultPod(obj, rand);
      return;
    case "apps/deployments": {
      const spec = rec(obj.spec);
      obj.spec = spec;
      setDefault(spec, "replicas", 1);
      setDefault(spec, "revisionHistoryLimit", 10);
      setDefault(spec, "progressDeadlineSeconds", 600);
      const strategy = rec(spec.strategy);
      spec.strategy = strategy;
      setDefault(strategy, "type", "RollingUpdate");
      if (strategy.type === "RollingUpdate") {
        const ru = rec(strategy.rollingUpdate);
        strategy.rollingUpdate = ru;
        setDefault(ru, "maxSurge", "25%");
        setDefault(ru, "maxUnavailable", "25%");
      }
      defaultTemplate(obj);
      return;
    }
    case "apps/replicasets":
      setDefault(rec(obj.spec), "replicas", 1);
      defaultTemplate(obj);
      return;
    case "apps/daemonsets": {
      const spec = rec(obj.spec);
      obj.spec = spec;
      setDefault(spec, "revisionHistoryLimit", 10);
      const us = rec(spec.updateStrategy);
      spec.updateStrategy = us;
      setDefault(us, "type", "RollingUpdate");
      if (us.type === "RollingUpdate") {
        const ru = rec(us.rollingUpdate);
        us.rollingUpdate = ru;
        setDefault(ru, "maxUnavailable", 1);
        setDefault(ru, "maxSurge", 0);
      }
      defaultTemplate(obj);
      return;
    }
    case "core/services":
      defaultService(obj);
      return;
    case "core/namespaces": {
      obj.metadata.labels = {
        ...(obj.metadata.labels ?? {}),
        "kubernetes.io/metadata.name": obj.metadata.name,
      };
      const spec = rec(obj.spec);
      obj.spec = spec;
      setDefault(spec, "finalizers", ["kubernetes"]);
      const status = rec(obj.status);
      obj.status = status;
      setDefault(status, "phase", "Active");
      return;
    }
    case "core/secrets":
      setDefault(obj as Rec, "type", "Opaque");
      return;
    case "networking.k8s.io/networkpolicies":
    case "projectcalico.org/stagedkubernetesnetworkpolicies": {
      const spec = rec(obj.spec);
      obj.spec = spec;
      defaultK8sNetworkPolicy(spec);
      if (key === "projectcalico.org/stagedkubernetesnetworkpolicies")
        setDefault(spec, "stagedAction", "Set");
      return;
    }
    case "projectcalico.org/tiers": {
      const spec = rec(obj.spec);
      obj.spec = spec;
      setDefault(spec, "defaultAction", "Deny");
      return;
    }
    case "projectcalico.org/ippools": {
      const spec = rec(obj.spec);
      obj.spec = spec;
      setDefault(spec, "blockSize", typeof spec.cidr === "string" && spec.cidr.includes(":") ? 122 : 26);
      setDefault(spec, "ipipMode", "Never");
      setDefault(spec, "vxlanMode", "Never");
      setDefault(spec, "nodeSelector", "all()");
      setDefault(spec, "allowedUses", ["Workload", "Tunnel"]);
      setDefault(spec, "assignmentMode", "Automatic");
      return;
    }
    case "operator.tigera.io/egressgateways": {
      const spec = rec(obj.spec);
      obj.spec = spec;
      setDefault(spec, "replicas", 1);
      setDefault(spec, "logSeverity", "Info");
      return;
    }
  }
  if (calicoPolicies.has(key)) {
    const spec = rec(obj.spec);
    obj.spec = spec;
    setDefault(spec, "tier", "default");
    if (!spec.tier) spec.tier = "default";
    defaultCalicoTypes(spec);
    if (key.includes("staged")) setDefault(spec, "stagedAction", "Set");
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "projectcalico.org/tier": String(spec.tier) };
  }
}
