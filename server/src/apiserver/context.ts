/** What every handler gets: the request, the response, the parsed URL and the cluster the token selected. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SimClusterHandle } from "../sim/types.ts";
import type { Logger } from "../shared/logger.ts";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  cluster: SimClusterHandle;
  logger: Logger;
  /** Called with a function that stops a long-running response (watch, log follow) when the server closes. */
  onClose(stop: () => void): () => void;
}
