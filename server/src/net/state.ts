/**
 * What of a dataplane survives a server restart (`Dataplane.snapshot`, `DataplaneContext.restore`): the virtual
 * internet's rotations and schedule position, the flow log, and the containers' logs (current and previous attempt). Learned DNS addresses (the policy engine's domain
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
  const s = raw as { internet?: unknown; flows?: unknown; logs?: unknown };
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
  return { state, problems };
}
