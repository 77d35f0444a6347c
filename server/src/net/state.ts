/**
 * What of a dataplane survives a server restart (`Dataplane.snapshot`, `DataplaneContext.restore`): the virtual
 * internet's rotations and schedule position, the flow log, the containers' logs (current and previous attempt),
 * and the files commands wrote in pods. Learned DNS addresses (the policy engine's domain
 * sets, `dest_domains` hints) are not kept: pods relearn them on their next lookup, as after a TTL expiry.
 */
import { isFlowRecord, type FlowRecord } from "./flows.ts";
import type { InternetState } from "./internet.ts";
import { parseSavedLogs, type SavedPodLog } from "../sim/runtime/logs.ts";

export interface DataplaneState {
  version: 1;
  internet: InternetState;
  /** Oldest first, at most the flow log's capacity. */
  flows: FlowRecord[];
  /** The containers' logs (absent in states saved before they were kept). */
  logs?: SavedPodLog[];
  /**
   * The files commands wrote in each pod (its containers' writable layer), by `namespace/name`; absent in states
   * saved before pods' files were kept, which restore with none.
   */
  pods?: Record<string, SavedPodFiles>;
}

/** One pod's written files: the pod's uid (a new pod of the same name starts empty) and each file's bytes. */
export interface SavedPodFiles {
  uid: string;
  /** Path → the file's bytes in base64. */
  files: Record<string, string>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isSavedPodFiles(v: unknown): v is SavedPodFiles {
  if (!v || typeof v !== "object") return false;
  const p = v as { uid?: unknown; files?: unknown };
  return (
    typeof p.uid === "string" &&
    !!p.files &&
    typeof p.files === "object" &&
    !Array.isArray(p.files) &&
    Object.entries(p.files).every(([k, f]) => k.startsWith("/") && typeof f === "string" && BASE64.test(f))
  );
}

/**
 * Reads a saved state tolerantly: whatever part is malformed is dropped (a bad internet section resets rotations,
 * bad flow records are skipped) and described in `problems`. Never throws.
 */
export function parseDataplaneState(raw: unknown): { state: DataplaneState; problems: string[] } {
  const problems: string[] = [];
  const state: DataplaneState = { version: 1, internet: { elapsedMs: 0, rotations: {} }, flows: [] };
  if (!raw || typeof raw !== "object" || (raw as { version?: unknown }).version !== 1) {
    problems.push("not a version 1 dataplane state");
    return { state, problems };
  }
  const s = raw as { internet?: unknown; flows?: unknown; logs?: unknown; pods?: unknown };
  const inet = s.internet as { elapsedMs?: unknown; rotations?: unknown } | undefined;
  const rotations = inet?.rotations;
  if (
    inet &&
    typeof inet.elapsedMs === "number" &&
    Number.isFinite(inet.elapsedMs) &&
    inet.elapsedMs >= 0 &&
    rotations &&
    typeof rotations === "object" &&
    !Array.isArray(rotations) &&
    Object.values(rotations).every((n) => Number.isInteger(n) && (n as number) >= 0)
  )
    state.internet = { elapsedMs: inet.elapsedMs, rotations: { ...(rotations as Record<string, number>) } };
  else problems.push("internet: malformed; domains start from their first addresses");
  if (Array.isArray(s.flows)) {
    state.flows = s.flows.filter(isFlowRecord);
    const bad = s.flows.length - state.flows.length;
    if (bad > 0) problems.push(`flows: ${bad} malformed record(s) skipped`);
  } else problems.push("flows: not a list; the flow log starts empty");
  if (s.logs !== undefined) {
    const { logs, bad } = parseSavedLogs(s.logs);
    state.logs = logs;
    if (!Array.isArray(s.logs)) problems.push("logs: not a list; containers' logs start empty");
    else if (bad > 0) problems.push(`logs: ${bad} malformed pod log(s) skipped`);
  }
  if (s.pods !== undefined) {
    if (s.pods && typeof s.pods === "object" && !Array.isArray(s.pods)) {
      const pods: Record<string, SavedPodFiles> = {};
      let bad = 0;
      for (const [k, v] of Object.entries(s.pods))
        if (isSavedPodFiles(v)) pods[k] = v;
        else bad++;
      state.pods = pods;
      if (bad > 0) problems.push(`pods: ${bad} pod(s) whose files are malformed start with none`);
    } else problems.push("pods: not a map; pods' files start empty");
  }
  return { state, problems };
}

/**
 * `JSON.stringify(state)` in pieces, without running the serializer over the pods' files: each file's base64 (which
 * needs no escaping) is a piece of its own, as it is. The files' values are base64 as `Buffer` writes it (or as
 * `parseDataplaneState` accepted it), never an attendee's text.
 */
function stateParts(state: DataplaneState): (string | { base64: string })[] {
  const { pods, ...rest } = state;
  const head = JSON.stringify(rest);
  if (pods === undefined) return [head];
  const parts: (string | { base64: string })[] = [
    `${head.slice(0, -1)}${head.length > 2 ? "," : ""}"pods":{`,
  ];
  let sep = "";
  for (const [k, p] of Object.entries(pods)) {
    parts.push(`${sep}${JSON.stringify(k)}:{"uid":${JSON.stringify(p.uid)},"files":{`);
    let fileSep = "";
    for (const [f, b64] of Object.entries(p.files)) {
      parts.push(`${fileSep}${JSON.stringify(f)}:"`, { base64: b64 }, '"');
      fileSep = ",";
    }
    parts.push("}}");
    sep = ",";
  }
  parts.push("}}");
  return parts;
}

/** `JSON.stringify(state)`, joined from pieces: the pods' files cost what joining strings does. */
export function dataplaneStateText(state: DataplaneState): string {
  return stateParts(state)
    .map((p) => (typeof p === "string" ? p : p.base64))
    .join("");
}

/**
 * `JSON.stringify(state)` as UTF-8 bytes, in pieces (for a vectored write): the pods' files are copied, not
 * serialized or encoded character by character.
 */
export function dataplaneStateBytes(state: DataplaneState): Buffer[] {
  return stateParts(state).map((p) =>
    typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p.base64, "latin1"),
  );
}
