/** Shared with the page (types only). */
import type { PoolView } from "../realtime/protocol.ts";

/** A workshop as the instructor's API shows it. */
export interface WorkshopView {
  id: string;
  title: string;
  lab: { id: string; title: string; stageCount: number };
  state: "draft" | "open" | "paused" | "ended";
  capacity: number | null;
  startsAt: string | null;
  endsAt: string | null;
  createdAt: string;
  endedAt: string | null;
  isDefault: boolean;
  attendees: number;
  pool: PoolView;
}
