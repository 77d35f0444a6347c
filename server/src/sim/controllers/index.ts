/**
 * The controllers of a simulated cluster, in the order they run.
 */
import type { Controller, ControllerContext } from "./context.ts";
import { daemonSetController } from "./daemonsets.ts";
import { deploymentController } from "./deployments.ts";
import { egressGatewayController } from "./egress-gateways.ts";
import { endpointsController } from "./endpoints.ts";
import { namespaceController } from "./namespaces.ts";
import { podController } from "./pods.ts";
import { replicaSetController } from "./replicasets.ts";
import { tokenController } from "./tokens.ts";

export { ControllerManager } from "./manager.ts";
export { createEventRecorder, type EventRecorder } from "./events.ts";
export { serviceAllocator, SERVICE_CIDR } from "./services.ts";
export type { Controller, ControllerContext } from "./context.ts";
export { tunnelAddress, nodeBlock, allocatePodIP } from "./ipam.ts";

export function createControllers(ctx: ControllerContext): Controller[] {
  const list = [
    namespaceController(ctx),
    egressGatewayController(ctx),
    deploymentController(ctx),
    replicaSetController(ctx),
    daemonSetController(ctx),
    podController(ctx),
    endpointsController(ctx),
    ...(ctx.clusterId !== undefined ? [tokenController(ctx, ctx.clusterId, ctx.apiCa)] : []),
  ];
  return ctx.registry.byKey("operator.tigera.io/egressgateways")
    ? list
    : list.filter((c) => c.name !== "egressgateway");
}
