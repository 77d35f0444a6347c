/**
 * The lab model: what a lab is once its files are read. Pure data: the loader (`../loader.ts`) does the I/O, the
 * functions in this folder parse, template and render without touching the file system or the network.
 */
import type { LabQuestion } from "../api.ts";

/** A file as read from the lab directory: its path relative to the lab root and its text (a template). */
export interface SourceFile {
  path: string;
  text: string;
}

/** A per-session parameter: one of a list of choices; a choice may carry named fields (`name.field`). */
export interface ParamSpec {
  name: string;
  choices: ParamChoice[];
}

/** One choice: its value (`{{ name }}`) and optional fields (`{{ name.field }}`). */
export interface ParamChoice {
  value: string;
  fields: Record<string, string>;
}

/** A Calico edition: Open Source, or Enterprise/Cloud (DNS policy, egress gateways). */
export type Edition = "enterprise" | "oss";

export interface LabRequirements {
  /** The edition a session gets when its cluster can be either (the first of `editions`). */
  edition: Edition;
  /** The Calico editions the lab runs on, each with its own variant of the stages that differ. */
  editions: Edition[];
  /** Providers the lab is known to run on. */
  providers: string[];
}

export interface Lab {
  id: string;
  title: string;
  description: string;
  durationMinutes: number;
  /** The cluster profile (`clusters/<profile>.yaml`). */
  profile: string;
  requirements: LabRequirements;
  /** The learner's toolbox on a real cluster: the lab's workload namespaces, where it may `kubectl exec`. */
  toolbox?: { execNamespaces: string[] };
  params: ParamSpec[];
  stages: StageSource[];
}

/** One stage as written: templates that are rendered with the session's parameters. */
export interface StageSource extends StageFiles {
  index: number;
  /** The stage directory name, e.g. `01-default-deny`. */
  id: string;
  /**
   * The stage as an edition runs it where that differs from the files above: the files of `<stage>/<edition>/` over
   * the stage's own, or a guide-only stage on an edition the stage cannot run on.
   */
  variants?: Partial<Record<Edition, StageFiles>>;
}

/** The files of a stage, for one edition. */
export interface StageFiles {
  title: string;
  /**
   * The stage cannot run on this edition (it needs features the edition lacks): the guide says so, and nothing is
   * set up, checked or solved.
   */
  guideOnly?: boolean;
  guide: SourceFile;
  setup: SourceFile[];
  commands?: SourceFile;
  checks: SourceFile;
  solution: SourceFile[];
  solutionAnswers?: SourceFile;
  wrong: WrongSource[];
  cleanup: SourceFile[];
}

export interface WrongSource {
  name: string;
  /** `wrong.yaml`: which checks it must fail and why. */
  meta: SourceFile;
  manifests: SourceFile[];
  answers?: SourceFile;
}

/** A Kubernetes object from a lab file, with where it came from. */
export interface Manifest {
  object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; [k: string]: unknown };
    [k: string]: unknown;
  };
  file: string;
  line: number;
}

/** Where a check's probe starts: a pod by name or by label selector. */
export interface PodRef {
  namespace: string;
  pod?: string;
  selector?: string;
  container?: string;
}

/** Where a probe goes. Exactly one of domain, ip, service. */
export interface ProbeTarget {
  domain?: string;
  ip?: string;
  service?: { name: string; namespace: string };
  port: number;
  protocol: "TCP" | "UDP";
  /** For HTTP(S) probes: the URL path (default `/`). */
  path?: string;
  /** `https` (default for 443), `http`, `tcp` (connect only), `dns` (resolve only). */
  scheme?: "https" | "http" | "tcp" | "dns";
}

export type ProbeExpectation =
  | { outcome: "allowed" | "denied" | "dns-failure" | "blocked" | "resolves" | "refused" }
  | { outcome: "status"; status: number }
  | { outcome: "source-ip"; equals?: string; in?: string; notIn?: string };

export interface CheckBase {
  id: string;
  title: string;
  hint: string;
  /** A regression guard: it passes before the solution, and a wrong solution proves it can fail. */
  guard: boolean;
  /**
   * Ids of checks this one depends on: when one of them fails, this check is not run and says so, instead of failing
   * with a hint meant for another cause (a probe to a domain cannot be judged while names do not resolve).
   */
  dependsOn?: string[];
}

export interface ProbeCheck extends CheckBase {
  kind: "probe";
  /**
   * What happens just before the probe: `rotate` makes the lab's internet rotate a catalogue domain's addresses
   * (`grading/rotation.ts`); on a cluster with no lab internet the probe runs without it and says so.
   */
  before?: { rotate: string };
  from: PodRef;
  to: ProbeTarget;
  expect: ProbeExpectation;
}

export interface FieldCondition {
  path: string;
  equals?: unknown;
  in?: unknown[];
  contains?: unknown;
  matches?: string;
  exists?: boolean;
}

export interface ResourceCheck extends CheckBase {
  kind: "resource";
  target: { apiVersion: string; kind: string; namespace?: string; name?: string; labelSelector?: string };
  expect: "exists" | "absent";
  where: FieldCondition[];
}

export interface FlowMatch {
  [field: string]: string | number | string[];
}

export interface FlowsCheck extends CheckBase {
  kind: "flows";
  /** Which flows to read (`namespace`, `workload`, `action`, `reporter`, `dest`, `domain`, `port`, `proto`, `since`): Whisker filters plus the rest applied to its answer. */
  query: Record<string, string>;
  /** Fields every counted record must have (snake_case flow-log names); a list means any of. */
  match: FlowMatch;
  /** Only records that ended within this many seconds before the newest record. */
  windowSeconds?: number;
  expect: { present: true } | { absent: true } | { atLeast?: number; atMost?: number };
}

export type AnswerNormalizer = "text" | "workload" | "domain" | "list" | "workloads" | "domains";

export interface AnswerTruth {
  /** Fixed truth (usually a session parameter). */
  values?: string[];
  /** Truth computed from the flow log: the distinct values of `field` over matching records. */
  flows?: { query: Record<string, string>; match: FlowMatch; field: string };
}

export interface AnswerCheck extends CheckBase {
  kind: "answer";
  question: string;
  normalize: AnswerNormalizer;
  truth: AnswerTruth;
}

export type Check = ProbeCheck | ResourceCheck | FlowsCheck | AnswerCheck;

/**
 * A step run at stage setup after the manifests: an API call (a path only the simulator serves works only there), a
 * provider rotating a domain's addresses (on every provider, as a guide's `rotate` action), a command in pods, or a
 * pause.
 */
export type SetupCommand =
  | { kind: "post"; path: string; body: unknown }
  | { kind: "rotate"; domain: string }
  | { kind: "exec"; from: PodRef; command: string[]; ignoreFailure: boolean }
  | { kind: "wait"; seconds: number };

export interface WrongSolution {
  name: string;
  why: string;
  fails: string[];
  /** The check whose hint the learner sees first: the root cause of this mistake. */
  first: string;
  /**
   * The whole attempt: the reference solution with the mistake, i.e. the solution's objects (less the files the
   * wrong solution leaves out, and those its own manifests replace) followed by its manifests.
   */
  manifests: Manifest[];
  /** The solution's answers with the wrong solution's in their place. */
  answers: Record<string, string>;
}

/** A stage rendered with one session's parameters: ready to apply and grade. */
export interface RenderedStage {
  index: number;
  id: string;
  title: string;
  /** The edition it was rendered for. */
  edition: Edition;
  /** Nothing to set up, check or solve on this edition: the guide explains why. */
  guideOnly: boolean;
  questions: LabQuestion[];
  setup: Manifest[];
  commands: SetupCommand[];
  checks: Check[];
  solution: Manifest[];
  solutionAnswers: Record<string, string>;
  wrong: WrongSolution[];
  cleanup: Manifest[];
}
