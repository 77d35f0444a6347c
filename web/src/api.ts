/** The JSON API, typed. Errors come back as `ApiError` carrying the server's code, message and problems. */
import type { CheckOutcome, StageProgress, WireError } from "../../server/src/realtime/protocol.ts";

export interface StageInfo {
  index: number;
  id: string;
  title: string;
  questions: { id: string; prompt: string; placeholder?: string }[];
}

export interface LearnerState {
  learner: { id: string; name: string };
  /** The personal resume code (opens this session on another browser) and whether a PIN is set. */
  resume?: { code: string; pin: boolean };
  lab: { id: string; title: string; description: string; durationMinutes: number };
  stages: StageInfo[];
  progress: StageProgress[];
  currentStage: number;
}

export interface Guide {
  html: string;
  actions: { id: string; kind: "run" | "copy" | "apply" | "check" | "rotate"; text: string }[];
  answers: Record<string, string>;
  lastCheck?: CheckOutcome;
}

/** A guide's `rotate` action done: the domain's addresses before and after. */
export interface Rotation {
  domain: string;
  previous: string[];
  ips: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly wire: WireError,
  ) {
    super(wire.problems?.length ? wire.problems.map((p) => p.message).join("; ") : wire.message);
  }
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: body !== undefined || method !== "GET" ? { "Content-Type": "application/json" } : {},
    body: body !== undefined ? JSON.stringify(body) : method !== "GET" ? "{}" : undefined,
  });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => ({}))) as { error?: WireError };
  if (!res.ok)
    throw new ApiError(
      res.status,
      json.error ?? { code: "internal", message: `the server answered ${res.status}` },
    );
  return json as T;
}

export const api = {
  workshop: () =>
    call<{ lab: { title: string; description: string }; joinCode: boolean }>("GET", "/api/workshop"),
  session: () => call<LearnerState>("GET", "/api/session"),
  join: (name: string, code?: string, pin?: string) =>
    call<LearnerState>("POST", "/api/join", { name, code, ...(pin ? { pin } : {}) }),
  /** Continues as an attendee who joined elsewhere: with their resume code, or join code + name + PIN. */
  resume: (body: { resumeCode: string } | { code?: string; name: string; pin: string }) =>
    call<LearnerState>("POST", "/api/resume", body),
  setPin: (pin: string) => call<LearnerState>("PUT", "/api/pin", { pin }),
  logout: () => call<void>("POST", "/api/logout"),
  guide: (i: number) => call<Guide>("GET", `/api/stages/${i}/guide`),
  go: (i: number) => call<LearnerState>("POST", `/api/stages/${i}/go`),
  saveAnswers: (i: number, answers: Record<string, string>) =>
    call<void>("PUT", `/api/stages/${i}/answers`, { answers }),
  check: (i: number, answers: Record<string, string>) =>
    call<CheckOutcome>("POST", `/api/stages/${i}/check`, { answers }),
  reset: (i: number) => call<LearnerState>("POST", `/api/stages/${i}/reset`),
  /** Performs a guide action the server does (`rotate`), by its id. */
  action: (i: number, id: string) =>
    call<Rotation>("POST", `/api/stages/${i}/actions/${encodeURIComponent(id)}`),
};
