/**
 * What replicas tell each other beyond room events, over the adapter's server-side events (`serverSideEmit`): a
 * board changed, a workshop ended (or opened, paused, got a new instructor token), an attendee checked, who is online where, the pause overlay, whose terminal a tab took.
 *
 * Server-side events travel over Redis PUB/SUB and are lost while a replica is cut off from Redis (a Redis restart),
 * so nothing here is trusted to arrive. Each replica numbers what it sends (`seq`, per process `epoch`) and tells
 * everyone, every `beatMs`, its latest number and the whole of what it holds (online attendees, attached terminals).
 * A receiver that sees a gap in a sender's numbers, or whose own connection to Redis came back, resyncs: the boards
 * read the database again (the truth), and every replica is asked for a beat at once. A sender not heard from for
 * three beats is gone: what it held is forgotten.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

const id = z.string().min(1).max(128);
const outcome = z.object({
  stageIndex: z.number().int().min(0),
  passed: z.boolean(),
  at: z.string().max(64),
  checks: z
    .array(
      z.object({
        id: z.string(),
        title: z.string(),
        passed: z.boolean(),
        seen: z.string(),
        hint: z.string().optional(),
        blockedBy: z.string().optional(),
      }),
    )
    .max(200),
});

const bodySchema = z.discriminatedUnion("kind", [
  /** Something of a workshop's board changed (joins, stages, resumes): read it again from the database. */
  z.object({ kind: z.literal("board"), workshopId: id }),
  /** A workshop's state or instructor token changed (ended, opened, paused): read it again from the database. */
  z.object({ kind: z.literal("workshop"), workshopId: id }),
  /** An attendee checked a stage. */
  z.object({ kind: z.literal("check"), workshopId: id, learnerId: id, outcome }),
  /** An attendee's first page opened, or their last one closed, on the sender. */
  z.object({ kind: z.literal("online"), workshopId: id, learnerId: id, online: z.boolean() }),
  /** The pause overlay of a workshop, now. */
  z.object({
    kind: z.literal("pause"),
    workshopId: id,
    pause: z.object({ paused: z.boolean(), text: z.string().max(1000).optional(), at: z.string().max(64) }),
  }),
  /** A tab on the sender took the attendee's terminal at `at` (ms): older tabs elsewhere let go. */
  z.object({ kind: z.literal("claim"), learnerId: id, at: z.number() }),
  /** Everything the sender holds: the attendees online there (per workshop) and the terminals attached there. */
  z.object({
    kind: z.literal("beat"),
    online: z.record(id, z.array(id).max(10_000)),
    attached: z.record(id, z.number()),
  }),
  /** The sender (re)joined: everyone beats at once. */
  z.object({ kind: z.literal("hello") }),
]);

const envelopeSchema = z.object({
  from: id,
  epoch: z.string().max(32),
  seq: z.number().int().min(1),
  body: bodySchema,
});

export type RelayBody = z.infer<typeof bodySchema>;
export type RelayEnvelope = z.infer<typeof envelopeSchema>;
type Kind = RelayBody["kind"];
type BodyOf<K extends Kind> = Extract<RelayBody, { kind: K }>;
export type BeatBody = BodyOf<"beat">;

/** The part of the socket.io server the relay uses (the real one, or a test's). */
export interface RelayTransport {
  serverSideEmit(event: "relay", m: RelayEnvelope): unknown;
  on(event: "relay", fn: (m: unknown) => void): unknown;
  off(event: "relay", fn: (m: unknown) => void): unknown;
}

export interface RelayOptions {
  /** This replica's name. */
  replica: string;
  /** How often this replica beats (default 2 s); a sender silent for three beats is gone. */
  beatMs?: number;
  /** What this replica holds now, for its beats. */
  beat: () => Omit<BeatBody, "kind">;
  logger?: Logger;
}

interface Peer {
  epoch: string;
  seq: number;
  seen: number;
}

export class Relay {
  private seq = 0;
  private readonly epoch = randomBytes(6).toString("hex");
  private readonly peers = new Map<string, Peer>();
  private readonly handlers = new Map<Kind, Set<(body: RelayBody, from: string) => void>>();
  private readonly resyncs = new Set<(reason: string) => void>();
  private readonly gone = new Set<(peer: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private beatSoon: NodeJS.Timeout | undefined;
  private readonly beatMs: number;
  private readonly log: Logger;
  private closed = false;
  private readonly onMessage = (raw: unknown): void => this.receive(raw);

  constructor(
    private readonly io: RelayTransport,
    private readonly opts: RelayOptions,
  ) {
    this.beatMs = opts.beatMs ?? 2000;
    this.log = opts.logger ?? noopLogger;
  }

  /** Starts listening and beating; says hello, so the others beat and this replica learns what they hold. */
  start(): void {
    this.io.on("relay", this.onMessage);
    this.publish({ kind: "hello" });
    this.timer = setInterval(() => {
      this.publish({ kind: "beat", ...this.opts.beat() });
      this.expire();
    }, this.beatMs);
    this.timer.unref();
  }

  /** Sends `body` to every other replica. */
  publish(body: RelayBody): void {
    if (this.closed) return;
    this.seq++;
    try {
      this.io.serverSideEmit("relay", { from: this.opts.replica, epoch: this.epoch, seq: this.seq, body });
    } catch (err) {
      this.log.warn("could not send an event to the other replicas", {
        kind: body.kind,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Calls `fn` for every `kind` event from another replica. */
  on<K extends Kind>(kind: K, fn: (body: BodyOf<K>, from: string) => void): void {
    let set = this.handlers.get(kind);
    if (!set) this.handlers.set(kind, (set = new Set()));
    set.add(fn as (body: RelayBody, from: string) => void);
  }

  /** Calls `fn` when what came from other replicas may be incomplete: read the truth again. */
  onResync(fn: (reason: string) => void): void {
    this.resyncs.add(fn);
  }

  /** Calls `fn` when a replica has not been heard from for three beats. */
  onPeerGone(fn: (peer: string) => void): void {
    this.gone.add(fn);
  }

  /** The replicas heard from within three beats. */
  get livePeers(): string[] {
    return [...this.peers.keys()];
  }

  /** Asks for a resync soon (several reasons within 200 ms make one), and for every replica's beat. */
  resync(reason: string): void {
    if (this.closed || this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      if (this.closed) return;
      this.log.info("reading the boards again from the database", { reason });
      for (const fn of this.resyncs) fn(reason);
      this.publish({ kind: "hello" });
    }, 200);
  }

  private receive(raw: unknown): void {
    if (this.closed) return;
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn("ignored a malformed event from another replica", { error: parsed.error.message });
      return;
    }
    const m = parsed.data;
    if (m.from === this.opts.replica && m.epoch === this.epoch) return;
    const peer = this.peers.get(m.from);
    const now = Date.now();
    if (!peer || peer.epoch !== m.epoch) {
      // A replica met for the first time (or restarted): anything before its hello was missed.
      if (m.seq !== 1 && m.body.kind !== "hello") this.resync(`missed the start of ${m.from}`);
      this.peers.set(m.from, { epoch: m.epoch, seq: m.seq, seen: now });
    } else {
      if (m.seq > peer.seq + 1) this.resync(`missed ${m.seq - peer.seq - 1} events from ${m.from}`);
      if (m.seq <= peer.seq) return;
      peer.seq = m.seq;
      peer.seen = now;
    }
    if (m.body.kind === "hello") this.beatNow();
    for (const fn of this.handlers.get(m.body.kind) ?? []) {
      try {
        fn(m.body, m.from);
      } catch (err) {
        this.log.error("an event from another replica could not be handled", {
          kind: m.body.kind,
          from: m.from,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  /** Beats within 50 ms (several hellos make one beat). */
  private beatNow(): void {
    this.beatSoon ??= setTimeout(() => {
      this.beatSoon = undefined;
      this.publish({ kind: "beat", ...this.opts.beat() });
    }, 50);
  }

  private expire(): void {
    const limit = Date.now() - 3 * this.beatMs - 500;
    for (const [name, p] of this.peers)
      if (p.seen < limit) {
        this.peers.delete(name);
        this.log.warn("a replica has gone quiet; forgetting what it held", { replica: name });
        for (const fn of this.gone) fn(name);
      }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.resyncTimer);
    clearTimeout(this.beatSoon);
    this.io.off("relay", this.onMessage);
  }
}
