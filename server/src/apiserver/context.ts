/** What every handler gets: the request, the response, the parsed URL and the cluster the token selected. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SimClusterHandle } from "../sim/types.ts";
import type { Logger } from "../shared/logger.ts";
import type { KubeObject, ResourceType } from "../store/types.ts";
import type { UserInfo } from "./rbac.ts";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  cluster: SimClusterHandle;
  logger: Logger;
  /** Called with a function that stops a long-running response (watch, log follow) when the server closes. */
  onClose(stop: () => void): () => void;
  /** Who sent the request; absent for the cluster's admin (whom nothing is checked for). */
  user?: UserInfo;
  /** Checks an object about to be created (Calico's tier check of a policy); throws the 403 to answer. */
  admitCreate?(t: ResourceType, obj: KubeObject): void;
  /** Whether a listed or watched object may be shown (Calico's tiers the user may see); absent = all. */
  visible?(obj: KubeObject): boolean;
}
