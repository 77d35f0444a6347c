/** Grading: the stage lifecycle and check runners (see `labs/api.ts`). */
export {
  setupStage,
  gradeStage,
  solveStage,
  resetStage,
  startAtStage,
  endGrading,
  rotateOn,
  type StageOptions,
} from "./stage.ts";
export { createKubeClient } from "./kube-client.ts";
export type { ClusterClient } from "./cluster.ts";
export { rotateDomain, NoLabInternetError, type RotationResult } from "./rotation.ts";
export { validateLab, type ValidateReport, type StageReport } from "./validate-lab.ts";
