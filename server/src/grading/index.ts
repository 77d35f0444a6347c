/** Grading: the stage lifecycle and check runners (see `labs/api.ts`). */
export {
  setupStage,
  gradeStage,
  solveStage,
  resetStage,
  startAtStage,
  endGrading,
  type StageOptions,
} from "./stage.ts";
export { createKubeClient } from "./kube-client.ts";
export type { ClusterClient } from "./cluster.ts";
export { validateLab, type ValidateReport, type StageReport } from "./validate-lab.ts";
