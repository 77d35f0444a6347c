/**
 * What the workshop needs of a lab: its stages, guides, per-session values, and setup/grade/reset against a cluster.
 * `labRunner` builds one from a loaded lab and the grading functions (`labs/api.ts` names them).
 */
import type { ClusterConnection } from "../providers/provider.ts";
import type {
  LabParams,
  LabSummary,
  RenderedGuide,
  RotationOutcome,
  StageResult,
  StageSummary,
} from "../labs/api.ts";
import {
  renderGuide,
  renderStage,
  sessionParams,
  stageSummaries,
  type Edition,
  type Lab,
} from "../labs/index.ts";
import type { KnownMistake } from "../instructor/mistakes.ts";

export interface LabRunner {
  readonly summary: LabSummary;
  /** The cluster profile the lab runs on. */
  readonly profile: string;
  /** The namespaces where the learner's toolbox may `kubectl exec` (on a real cluster), when the lab names them. */
  readonly toolboxExecNamespaces?: readonly string[];
  readonly edition: "enterprise" | "oss";
  /** The per-session randomised values for a learner's seed. */
  params(seed: number): LabParams;
  /**
   * Seeds with the same variant get the same values, hence the same stage setups: a cluster prepared for one can be
   * copied for the others.
   */
  variant?(seed: number): string;
  /** The stages, with their questions rendered for these values. */
  stages(params: LabParams): StageSummary[];
  guide(stageIndex: number, params: LabParams): RenderedGuide;
  /** Applies the stage's setup to the cluster. */
  setup(conn: ClusterConnection, stageIndex: number, params: LabParams): Promise<void>;
  /** Runs the stage's checks; never throws for a failing check, only for a broken cluster. */
  grade(
    conn: ClusterConnection,
    stageIndex: number,
    params: LabParams,
    answers: Record<string, string>,
  ): Promise<StageResult>;
  /** Cleans the stage up and sets it up again. */
  reset(conn: ClusterConnection, stageIndex: number, params: LabParams): Promise<void>;
  /** Applies the stage's reference solution (to set a rebuilt cluster up again). */
  solve?(conn: ClusterConnection, stageIndex: number, params: LabParams): Promise<void>;
  /** Removes what grading left in the cluster (its probe pods), before a cluster that outlives the session is returned. */
  end?(conn: ClusterConnection): Promise<void>;
  /** Makes the lab's internet rotate a domain's addresses in the cluster (a guide's `rotate` action). */
  rotate?(conn: ClusterConnection, domain: string): Promise<RotationOutcome>;
  /** The stage's known wrong solutions: which checks each fails and why (the board names the mistakes with them). */
  mistakes?(stageIndex: number, params: LabParams): readonly KnownMistake[];
}

/** The grading functions of `grading/index.ts`, as `labs/api.ts` declares them. */
export interface GradingFunctions {
  /** Applies the stage's setup objects and commands, and waits for its workloads. */
  setupStage(conn: ClusterConnection, lab: Lab, stageIndex: number, params: LabParams): Promise<void>;
  /** Runs every check of the stage against the cluster. */
  gradeStage(
    conn: ClusterConnection,
    lab: Lab,
    stageIndex: number,
    params: LabParams,
    answers: Record<string, string>,
  ): Promise<StageResult>;
  /** Undoes the stage and sets it up again. */
  resetStage(conn: ClusterConnection, lab: Lab, stageIndex: number, params: LabParams): Promise<void>;
  /** Applies the stage's reference solution. */
  solveStage(conn: ClusterConnection, lab: Lab, stageIndex: number, params: LabParams): Promise<void>;
  /** Removes what grading left in the cluster. */
  endGrading?(conn: ClusterConnection): Promise<void>;
  /** Rotates a domain's addresses through the cluster (grading/rotation.ts). */
  rotateOn?(conn: ClusterConnection, domain: string): Promise<RotationOutcome>;
}

/**
 * Remembers what `render` made for each set of parameters: a lab has a handful of variants, and every learner's page
 * asks for its stages and guides again and again (rendering parses the stage's YAML). Results are frozen, since
 * learners of a variant share them; at most `limit` sets are kept.
 */
function perVariant<T>(render: (params: LabParams) => T, limit = 256): (params: LabParams) => T {
  const made = new Map<string, T>();
  return (params) => {
    const key = JSON.stringify(params);
    let v = made.get(key);
    if (v === undefined) {
      v = deepFreeze(render(params));
      if (made.size >= limit) made.clear();
      made.set(key, v);
    }
    return v;
  };
}

function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== "object" || Object.isFrozen(v)) return v;
  for (const x of Object.values(v)) deepFreeze(x);
  return Object.freeze(v);
}

/**
 * The edition a workshop's sessions run as: the provider's when the lab has a track for it (kind installs Calico Open
 * Source, so its learners get the Open Source track), else the lab's first edition.
 */
export function sessionEdition(lab: Lab, providerEdition: Edition): Edition {
  return lab.requirements.editions.includes(providerEdition) ? providerEdition : lab.requirements.edition;
}

/** The runner of `lab` for sessions of `edition` (default: the lab's first). */
export function labRunner(
  lab: Lab,
  grading: GradingFunctions,
  edition: Edition = lab.requirements.edition,
): LabRunner {
  const stages = perVariant((params) => stageSummaries(lab, params));
  const rotateOn = grading.rotateOn?.bind(grading);
  const guides = lab.stages.map((_, i) => perVariant((params) => renderGuide(lab, i, params)));
  const mistakes = lab.stages.map((_, i) =>
    perVariant((params): KnownMistake[] =>
      renderStage(lab, i, params).wrong.map((w) => ({
        name: w.name,
        why: w.why,
        fails: w.fails,
        ...(w.first ? { first: w.first } : {}),
      })),
    ),
  );
  return {
    summary: {
      id: lab.id,
      title: lab.title,
      description: lab.description,
      durationMinutes: lab.durationMinutes,
      stageCount: lab.stages.length,
    },
    profile: lab.profile,
    ...(lab.toolbox ? { toolboxExecNamespaces: lab.toolbox.execNamespaces } : {}),
    edition,
    params: (seed) => sessionParams(lab, seed, edition),
    variant: (seed) => JSON.stringify(sessionParams(lab, seed, edition)),
    stages,
    guide: (i, params) => guides[i]?.(params) ?? renderGuide(lab, i, params),
    setup: (conn, i, params) => grading.setupStage(conn, lab, i, params),
    grade: (conn, i, params, answers) => grading.gradeStage(conn, lab, i, params, answers),
    reset: (conn, i, params) => grading.resetStage(conn, lab, i, params),
    solve: (conn, i, params) => grading.solveStage(conn, lab, i, params),
    end: (conn) => grading.endGrading?.(conn) ?? Promise.resolve(),
    ...(rotateOn ? { rotate: (conn: ClusterConnection, domain: string) => rotateOn(conn, domain) } : {}),
    mistakes: (i, params) => mistakes[i]?.(params) ?? [],
  };
}
