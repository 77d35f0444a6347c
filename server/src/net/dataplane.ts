/**
 * The simulated dataplane of one cluster: pod networking, cluster DNS, the virtual internet, egress gateways, the
 * shell inside pods, flow logs and background traffic. `createDataplane` is called once per cluster by the cluster
 * composition (`sim/cluster.ts`).
 */
import type { ClusterApi, ObjectStore } from "../store/types.ts";
import type { CalicoEdition, DataplaneApi, PodRuntime } from "../sim/types.ts";
import type { Clock } from "../shared/clock.ts";
import type { Logger } from "../shared/logger.ts";
import { ApiError } from "../store/types.ts";

export interface DataplaneContext {
  clusterId: string;
  store: ObjectStore;
  api: ClusterApi;
  clock: Clock;
  seed: number;
  edition: CalicoEdition;
  /** The profile the cluster was created from (e.g. `bare`), for profile-specific data such as traffic. */
  profile: string;
  logger: Logger;
}

export interface Dataplane {
  runtime: PodRuntime;
  api: DataplaneApi;
  /** Stops timers and subscriptions. */
  close(): void;
}

export function createDataplane(ctx: DataplaneContext): Dataplane {
  const pod = (ns: string, name: string) => {
    const p = ctx.store.get("core/pods", ns, name);
    if (!p) throw new ApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    return p;
  };
  return {
    runtime: {
      async exec(req, io) {
        pod(req.namespace, req.pod);
        io.stderr(`sh: ${req.command[0] ?? ""}: not found\n`);
        return 127;
      },
      logs(ns, name) {
        pod(ns, name);
        return "";
      },
    },
    api: {
      queryFlows: () => ({ items: [] }),
      watchFlows: () => () => {},
      rotate: () => ({}),
    },
    close() {},
  };
}
