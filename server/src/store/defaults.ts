/**
 * Defaulting, as the API server (and its admission plugins) fill in what `kubectl get -o yaml` then shows: pod and
 * template defaults, Service defaults, NetworkPolicy `policyTypes`, Calico `types` (spec §A.7) and `tier`.
 */
import type { Random } from "./random.ts";
import type { KubeObject, ResourceKey } from "./types.ts";
import { asArray, asObject, type JsonObject } from "../shared/object.ts";

function setDefault(o: JsonObject, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function defaultContainer(c: JsonObject): void {
  const image = typeof c.image === "string" ? c.image : "";
  const last = image.split("/").pop() ?? "";
  const tagged = last.includes(":") && !last.endsWith(":latest");
  const digest = image.includes("@");
  setDefault(c, "imagePullPolicy", tagged || digest ? "IfNotPresent" : "Always");
  setDefault(c, "terminationMessagePath", "/dev/termination-log");
  setDefault(c, "terminationMessagePolicy", "File");
  setDefault(c, "resources", {});
  for (const p of asArray(c.ports)) setDefault(asObject(p), "protocol", "TCP");
  for (const e of asArray(c.env)) {
    const vf = asObject(asObject(e).valueFrom);
    if (vf.fieldRef) setDefault(asObject(vf.fieldRef), "apiVersion", "v1");
  }
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    if (!c[probe]) continue;
    const p = asObject(c[probe]);
    setDefault(p, "timeoutSeconds", 1);
    setDefault(p, "periodSeconds", 10);
    setDefault(p, "successThreshold", 1);
    setDefault(p, "failureThreshold", 3);
    if (p.httpGet) setDefault(asObject(p.httpGet), "scheme", "HTTP");
  }
}

/** `SetDefaults_PodSpec` and the container defaults: what a pod template gets. */
export function defaultPodSpec(spec: JsonObject): void {
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)])
    defaultContainer(asObject(c));
  for (const v of asArray(spec.volumes)) {
    const vol = asObject(v);
    if (vol.configMap) setDefault(asObject(vol.configMap), "defaultMode", 420);
    if (vol.secret) setDefault(asObject(vol.secret), "defaultMode", 420);
    if (vol.hostPath) setDefault(asObject(vol.hostPath), "type", "");
  }
}

/** What a bare Pod gets in addition: service account admission, default tolerations, priority. */
function defaultPod(pod: KubeObject, rand: Random): void {
  const spec = asObject(pod.spec);
  pod.spec = spec;
  defaultPodSpec(spec);
  setDefault(spec, "enableServiceLinks", true);
  setDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
  setDefault(spec, "priority", 0);
  if (!spec.serviceAccountName && spec.serviceAccount) spec.serviceAccountName = spec.serviceAccount;
  setDefault(spec, "serviceAccountName", "default");
  spec.serviceAccount = spec.serviceAccountName;
  const tolerations = asArray(spec.tolerations).map(asObject);
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    if (!tolerations.some((t) => t.key === key))
      tolerations.push({ effect: "NoExecute", key, operator: "Exists", tolerationSeconds: 300 });
  }
  spec.tolerations = tolerations;
  if (spec.automountServiceAccountToken !== false && !spec.hostNetwork) {
    const volumes = asArray(spec.volumes).map(asObject);
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
      for (const c of asArray(spec.containers).map(asObject)) {
        const mounts = asArray(c.volumeMounts).map(asObject);
        mounts.push({ mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", name, readOnly: true });
        c.volumeMounts = mounts;
      }
    }
  }
  const status = asObject(pod.status);
  pod.status = status;
  setDefault(status, "phase", "Pending");
  setDefault(status, "qosClass", "BestEffort");
}

function defaultTemplate(o: KubeObject): void {
  const spec = asObject(o.spec);
  const template = asObject(spec.template);
  spec.template = template;
  const tspec = asObject(template.spec);
  template.spec = tspec;
  defaultPodSpec(tspec);
  const tmeta = asObject(template.metadata);
  template.metadata = tmeta;
}

function defaultService(svc: KubeObject): void {
  const spec = asObject(svc.spec);
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
  for (const p of asArray(spec.ports).map(asObject)) {
    setDefault(p, "protocol", "TCP");
    setDefault(p, "targetPort", p.port);
  }
  const status = asObject(svc.status);
  svc.status = status;
  setDefault(status, "loadBalancer", {});
}

/** Calico `types` defaulting (§A.7) for NP, GNP, SNP and SGNP. */
export function defaultCalicoTypes(spec: JsonObject): void {
  if (asArray(spec.types).length) return;
  const ing = asArray(spec.ingress).length > 0;
  const eg = asArray(spec.egress).length > 0;
  spec.types = ing && eg ? ["Ingress", "Egress"] : eg ? ["Egress"] : ["Ingress"];
}

function defaultK8sNetworkPolicy(spec: JsonObject): void {
  setDefault(spec, "podSelector", {});
  if (!asArray(spec.policyTypes).length) {
    spec.policyTypes = asArray(spec.egress).length ? ["Ingress", "Egress"] : ["Ingress"];
  }
  for (const r of [...asArray(spec.ingress), ...asArray(spec.egress)].map(asObject))
    for (const p of asArray(r.ports).map(asObject)) setDefault(p, "protocol", "TCP");
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
      const spec = asObject(obj.spec);
      obj.spec = spec;
      setDefault(spec, "replicas", 1);
      setDefault(spec, "revisionHistoryLimit", 10);
      setDefault(spec, "progressDeadlineSeconds", 600);
      const strategy = asObject(spec.strategy);
      spec.strategy = strategy;
      setDefault(strategy, "type", "RollingUpdate");
      if (strategy.type === "RollingUpdate") {
        const ru = asObject(strategy.rollingUpdate);
        strategy.rollingUpdate = ru;
        setDefault(ru, "maxSurge", "25%");
        setDefault(ru, "maxUnavailable", "25%");
      }
      defaultTemplate(obj);
      return;
    }
    case "apps/replicasets":
      setDefault(asObject(obj.spec), "replicas", 1);
      defaultTemplate(obj);
      return;
    case "apps/daemonsets": {
      const spec = asObject(obj.spec);
      obj.spec = spec;
      setDefault(spec, "revisionHistoryLimit", 10);
      const us = asObject(spec.updateStrategy);
      spec.updateStrategy = us;
      setDefault(us, "type", "RollingUpdate");
      if (us.type === "RollingUpdate") {
        const ru = asObject(us.rollingUpdate);
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
      const spec = asObject(obj.spec);
      obj.spec = spec;
      setDefault(spec, "finalizers", ["kubernetes"]);
      const status = asObject(obj.status);
      obj.status = status;
      setDefault(status, "phase", "Active");
      return;
    }
    case "core/secrets":
      setDefault(obj as JsonObject, "type", "Opaque");
      return;
    case "networking.k8s.io/networkpolicies":
    case "projectcalico.org/stagedkubernetesnetworkpolicies": {
      const spec = asObject(obj.spec);
      obj.spec = spec;
      defaultK8sNetworkPolicy(spec);
      if (key === "projectcalico.org/stagedkubernetesnetworkpolicies")
        setDefault(spec, "stagedAction", "Set");
      return;
    }
    case "projectcalico.org/tiers": {
      const spec = asObject(obj.spec);
      obj.spec = spec;
      setDefault(spec, "defaultAction", "Deny");
      return;
    }
    case "projectcalico.org/ippools": {
      const spec = asObject(obj.spec);
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
      const spec = asObject(obj.spec);
      obj.spec = spec;
      setDefault(spec, "replicas", 1);
      setDefault(spec, "logSeverity", "Info");
      return;
    }
  }
  if (calicoPolicies.has(key)) {
    const spec = asObject(obj.spec);
    obj.spec = spec;
    setDefault(spec, "tier", "default");
    if (!spec.tier) spec.tier = "default";
    defaultCalicoTypes(spec);
    if (key.includes("staged")) setDefault(spec, "stagedAction", "Set");
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "projectcalico.org/tier": String(spec.tier) };
  }
}
