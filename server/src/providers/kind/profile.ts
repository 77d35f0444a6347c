/**
 * What of a simulator cluster profile (`clusters/<name>.yaml`) to apply to a real kind cluster: the profile's own
 * workloads. Objects from the `bare` profile (which describes what kind + Calico already has, wherever it is included)
 * and objects only the simulator understands (nodes, endpoints kept by controllers, `egresslab.dev` kinds) are left out.
 */
import path from "node:path";
import { stringify } from "yaml";
import { defaultProfilesDir, loadProfile, profileForEdition, sortForCreation } from "../../sim/profiles.ts";
import type { CalicoEdition } from "../../sim/types.ts";
import type { KubeObject } from "../../store/types.ts";

/** The profile that describes a fresh kind cluster with Calico: already there on a real one. */
export const baseProfile = "bare";

const simulatorOnlyKinds = new Set(["Node", "Endpoints", "EndpointSlice"]);

/** The objects of profile `name` that belong on a real cluster of `edition`, in creation order. */
export function realProfileObjects(
  name: string,
  dir = defaultProfilesDir(),
  edition: CalicoEdition = "oss",
): KubeObject[] {
  const profile = profileForEdition(loadProfile(name, dir), edition);
  const base = path.relative(path.dirname(dir), path.join(dir, `${baseProfile}.yaml`));
  const picked = profile.objects.filter(
    (o) =>
      o.where !== base &&
      !simulatorOnlyKinds.has(o.object.kind) &&
      !o.object.apiVersion.startsWith("egresslab."),
  );
  return sortForCreation(picked).map((o) => clean(o.object));
}

/** The same objects as one multi-document YAML stream for `kubectl apply -f -`, or undefined when there are none. */
export function realProfileManifests(
  name: string,
  dir = defaultProfilesDir(),
  edition: CalicoEdition = "oss",
): Promise<string | undefined> {
  const objects = realProfileObjects(name, dir, edition);
  return Promise.resolve(objects.length ? objects.map((o) => stringify(o)).join("---\n") : undefined);
}

function clean(o: KubeObject): KubeObject {
  const { status: _status, ...rest } = o as KubeObject & { status?: unknown };
  const {
    resourceVersion: _rv,
    uid: _uid,
    creationTimestamp: _ct,
    ...metadata
  } = rest.metadata as unknown as Record<string, unknown>;
  return { ...rest, metadata } as unknown as KubeObject;
}
