/**
 * Pages across replicas: which attendees have a page open on some replica (the board's online column) and which tab
 * holds each attendee's terminal ("your terminal is open elsewhere" when a newer tab took it on another replica).
 * Fed by the relay's `online`, `claim` and `beat` events; a replica's beat replaces everything known of it, so a
 * lost event is mended by the next beat.
 */
import type { Relay } from "./relay.ts";

interface Held {
  /** Workshop id → attendees online there. */
  online: Map<string, Set<string>>;
}

interface Claim {
  at: number;
  release: () => void;
}

export class Peers {
  /** This replica's pages: learner → workshop and count. */
  private readonly local = new Map<string, { workshopId: string; pages: number }>();
  private readonly remote = new Map<string, Held>();
  /** The tab attached to each attendee's terminal here, and since when. */
  private readonly claims = new Map<string, Claim>();
  private readonly listeners = new Set<(workshopId: string) => void>();

  constructor(private readonly relay?: Relay) {
    if (!relay) return;
    relay.on("online", (b, from) => {
      const held = this.heldBy(from);
      let set = held.online.get(b.workshopId);
      if (!set) held.online.set(b.workshopId, (set = new Set()));
      if (b.online) set.add(b.learnerId);
      else set.delete(b.learnerId);
      this.changed(b.workshopId);
    });
    relay.on("beat", (b, from) => {
      const before = this.remote.get(from);
      const online = new Map(Object.entries(b.online).map(([w, ids]) => [w, new Set(ids)]));
      this.remote.set(from, { online });
      for (const w of new Set([...(before?.online.keys() ?? []), ...online.keys()]))
        if (!sameSet(before?.online.get(w), online.get(w))) this.changed(w);
      for (const [learnerId, at] of Object.entries(b.attached)) this.claimedElsewhere(learnerId, at);
    });
    relay.on("claim", (b) => this.claimedElsewhere(b.learnerId, b.at));
    relay.onPeerGone((peer) => {
      const held = this.remote.get(peer);
      this.remote.delete(peer);
      for (const w of held?.online.keys() ?? []) this.changed(w);
    });
  }

  private heldBy(peer: string): Held {
    let h = this.remote.get(peer);
    if (!h) this.remote.set(peer, (h = { online: new Map() }));
    return h;
  }

  private changed(workshopId: string): void {
    for (const fn of this.listeners) fn(workshopId);
  }

  /** Calls `fn` with a workshop whose online attendees on other replicas changed. */
  onChange(fn: (workshopId: string) => void): void {
    this.listeners.add(fn);
  }

  /** A page of the learner opened (+1) or closed (-1) here; the others hear when the first opens or the last closes. */
  page(workshopId: string, learnerId: string, delta: 1 | -1): void {
    const cur = this.local.get(learnerId);
    const pages = (cur?.pages ?? 0) + delta;
    if (pages > 0) this.local.set(learnerId, { workshopId, pages });
    else this.local.delete(learnerId);
    if (pages > 0 !== (cur !== undefined && cur.pages > 0))
      this.relay?.publish({ kind: "online", workshopId, learnerId, online: pages > 0 });
  }

  /** True when the learner has a page open on another replica. */
  onlineElsewhere(learnerId: string): boolean {
    for (const h of this.remote.values())
      for (const set of h.online.values()) if (set.has(learnerId)) return true;
    return false;
  }

  /**
   * A tab here took the learner's terminal: tabs on other replicas let go. `release` detaches this tab when a newer
   * one takes the terminal elsewhere. Returns the way out (the tab closed or let go).
   */
  claim(learnerId: string, release: () => void): () => void {
    const c: Claim = { at: Date.now(), release };
    this.claims.set(learnerId, c);
    this.relay?.publish({ kind: "claim", learnerId, at: c.at });
    return () => {
      if (this.claims.get(learnerId) === c) this.claims.delete(learnerId);
    };
  }

  /** Another replica's tab took the terminal at `at`: an older tab here lets go. */
  private claimedElsewhere(learnerId: string, at: number): void {
    const mine = this.claims.get(learnerId);
    if (!mine || mine.at >= at) return;
    this.claims.delete(learnerId);
    mine.release();
  }

  /** What this replica holds, for its beat. */
  beat(): { online: Record<string, string[]>; attached: Record<string, number> } {
    const online: Record<string, string[]> = {};
    for (const [learnerId, { workshopId }] of this.local) (online[workshopId] ??= []).push(learnerId);
    const attached: Record<string, number> = {};
    for (const [learnerId, c] of this.claims) attached[learnerId] = c.at;
    return { online, attached };
  }
}

function sameSet(a: Set<string> | undefined, b: Set<string> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const x of a ?? []) if (!b?.has(x)) return false;
  return true;
}
