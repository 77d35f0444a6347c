import { afterEach, describe, expect, it, vi } from "vitest";
import { Relay, type RelayEnvelope, type RelayTransport } from "./relay.ts";
import { Peers } from "./peers.ts";

/** Replicas on one bus that delivers what is sent to everyone else, unless told to drop it. */
class Bus {
  private readonly members = new Set<(m: unknown) => void>();
  drop = false;
  sent: RelayEnvelope[] = [];
  transport(): RelayTransport {
    let mine: ((m: unknown) => void) | undefined;
    return {
      serverSideEmit: (_e, m) => {
        this.sent.push(m);
        if (this.drop) return;
        for (const fn of this.members) if (fn !== mine) fn(structuredClone(m));
      },
      on: (_e, fn) => {
        mine = fn;
        this.members.add(fn);
      },
      off: (_e, fn) => this.members.delete(fn),
    };
  }
}

const relays: Relay[] = [];
afterEach(() => {
  for (const r of relays.splice(0)) r.close();
  vi.useRealTimers();
});

function replica(bus: Bus, name: string): { relay: Relay; peers: Peers; resyncs: string[] } {
  const held: { peers?: Peers } = {};
  const relay = new Relay(bus.transport(), { replica: name, beatMs: 1000, beat: () => held.peers!.beat() });
  const peers = (held.peers = new Peers(relay));
  const resyncs: string[] = [];
  relay.onResync((r) => resyncs.push(r));
  relays.push(relay);
  return { relay, peers, resyncs };
}

describe("the relay between replicas", () => {
  it("resyncs when a sender's numbers skip (events lost), and not when none were", () => {
    vi.useFakeTimers();
    const bus = new Bus();
    const a = replica(bus, "a");
    const b = replica(bus, "b");
    b.relay.start();
    a.relay.start();
    a.relay.publish({ kind: "board", workshopId: "w" });
    vi.advanceTimersByTime(300);
    expect(b.resyncs).toEqual([]);
    bus.drop = true;
    a.relay.publish({ kind: "board", workshopId: "w" });
    bus.drop = false;
    a.relay.publish({ kind: "board", workshopId: "w" });
    vi.advanceTimersByTime(300);
    expect(b.resyncs).toEqual(["missed 1 events from a"]);
  });

  it("finds a loss at the end by the next beat, which carries the sender's number", () => {
    vi.useFakeTimers();
    const bus = new Bus();
    const a = replica(bus, "a");
    const b = replica(bus, "b");
    b.relay.start();
    a.relay.start();
    bus.drop = true;
    a.relay.publish({ kind: "board", workshopId: "w" });
    bus.drop = false;
    vi.advanceTimersByTime(300);
    expect(b.resyncs).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(b.resyncs).toEqual(["missed 1 events from a"]);
  });

  it("learns who is online elsewhere from deltas, mends a lost delta from the beat, and forgets a silent replica", () => {
    vi.useFakeTimers();
    const bus = new Bus();
    const a = replica(bus, "a");
    const b = replica(bus, "b");
    const changed: string[] = [];
    b.peers.onChange((w) => changed.push(w));
    a.relay.start();
    b.relay.start();
    a.peers.page("w1", "ada", 1);
    a.peers.page("w1", "ada", 1);
    expect(b.peers.onlineElsewhere("ada")).toBe(true);
    expect(a.peers.onlineElsewhere("ada")).toBe(false);
    bus.drop = true;
    a.peers.page("w1", "bob", 1);
    bus.drop = false;
    expect(b.peers.onlineElsewhere("bob")).toBe(false);
    vi.advanceTimersByTime(1100);
    expect(b.peers.onlineElsewhere("bob")).toBe(true);
    a.peers.page("w1", "ada", -1);
    expect(b.peers.onlineElsewhere("ada")).toBe(true);
    a.peers.page("w1", "ada", -1);
    expect(b.peers.onlineElsewhere("ada")).toBe(false);
    expect(changed.length).toBeGreaterThan(0);
    // Replica a goes quiet (killed): after three beats, its attendees are no longer online.
    a.relay.close();
    vi.advanceTimersByTime(4000);
    expect(b.peers.onlineElsewhere("bob")).toBe(false);
  });

  it("a newer tab on another replica makes the older one let go, also when the claim itself was lost", () => {
    vi.useFakeTimers();
    const bus = new Bus();
    const a = replica(bus, "a");
    const b = replica(bus, "b");
    a.relay.start();
    b.relay.start();
    let released = 0;
    a.peers.claim("ada", () => released++);
    vi.advanceTimersByTime(10);
    b.peers.claim("ada", () => released++);
    expect(released).toBe(1);
    // Lost claim: the beat of the replica holding the newer tab carries it.
    let bobReleased = 0;
    b.peers.claim("bob", () => bobReleased++);
    vi.advanceTimersByTime(10);
    bus.drop = true;
    a.peers.claim("bob", () => undefined);
    bus.drop = false;
    expect(bobReleased).toBe(0);
    vi.advanceTimersByTime(1100);
    expect(bobReleased).toBe(1);
  });

  it("resyncs when it meets a replica after that replica's start (what it said before was missed)", () => {
    vi.useFakeTimers();
    const bus = new Bus();
    const a = replica(bus, "a");
    const b = replica(bus, "b");
    a.relay.start();
    b.relay.start();
    vi.advanceTimersByTime(300);
    expect(b.resyncs).toEqual(["missed the start of a"]);
  });

  it("ignores malformed events from another replica", () => {
    const bus = new Bus();
    const b = replica(bus, "b");
    b.relay.start();
    const t = bus.transport();
    let seen = 0;
    b.relay.on("board", () => seen++);
    t.on("relay", () => undefined);
    for (const m of [
      null,
      { from: "x", epoch: "e", seq: 1, body: { kind: "board" } },
      { from: "x", epoch: "e", seq: 0, body: { kind: "board", workshopId: "w" } },
      { from: "x", epoch: "e", seq: 1, body: { kind: "nope", workshopId: "w" } },
    ])
      t.serverSideEmit("relay", m as RelayEnvelope);
    expect(seen).toBe(0);
    t.serverSideEmit("relay", { from: "x", epoch: "e", seq: 1, body: { kind: "board", workshopId: "w" } });
    expect(seen).toBe(1);
  });
});
