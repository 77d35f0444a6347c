/**
 * The Redis connection that carries socket.io's events between replicas (`--redis redis://…`): one client, connected
 * before the server listens, and the Redis Streams adapter made from it. A server without Redis keeps socket.io's
 * in-memory adapter: one process, as before.
 *
 * The client reconnects on its own for as long as the server runs (backoff up to 2 s); while it is away, commands wait
 * in its offline queue, the adapter resumes its stream from the last entry it read, and `onReconnect` tells the
 * server to bring what it learnt from other replicas up to date again (messages between servers can be lost).
 */
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { EgresslabError, ValidationError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";

type RedisClient = ReturnType<typeof createClient>;

export interface RedisLink {
  /** The socket.io adapter for `new Server({ adapter })`. */
  adapter: ReturnType<typeof createAdapter>;
  /** The URL without its password, for logs. */
  shownUrl: string;
  /** True while the connection is up. */
  readonly up: boolean;
  /** Calls `fn` every time the connection is back after being lost. Returns the way out. */
  onReconnect(fn: () => void): () => void;
  /** Resolves when Redis answers a PING. */
  ping(): Promise<void>;
  /**
   * Resolves once the adapter reads the stream and listens for server-side events (call it after the socket.io
   * server exists, before the server listens): what other replicas send from then on reaches this one.
   */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** True for a URL the Redis client accepts. */
export const isRedisUrl = (url: string): boolean => /^rediss?:\/\//.test(url);

/** `url` without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "redis://…";
  }
}

/** Commands the adapter sends without waiting for their answer: a failure of one is logged, not thrown. */
const unawaited = new Set(["publish", "sPublish", "set", "subscribe", "sSubscribe"]);

/**
 * The client as the adapter gets it: commands the adapter fires and forgets (a server-side event's PUBLISH, a page's
 * saved session, a subscription) cannot reject with no one listening when Redis goes away mid-command, which would
 * end the process; the count of servers (PUBSUB NUMSUB) reads as "this one alone" while Redis is away, so a request
 * to the other replicas answers at once, with nothing. Duplicates (the adapter's readers) are guarded the same way.
 */
/** What the adapter has started: its connections (stream reader, subscriber) and subscriptions. */
interface Startup {
  connections: Promise<unknown>[];
  subscriptions: Promise<unknown>[];
}

function guarded(client: RedisClient, log: Logger, startup: Startup, duplicate = false): RedisClient {
  return new Proxy(client, {
    get(target, prop) {
      // The client's own getters and methods see the client itself (it keeps private fields).
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      const fn = v as (...a: unknown[]) => unknown;
      if (prop === "duplicate")
        return (...a: unknown[]) => guarded(fn.apply(target, a) as RedisClient, log, startup, true);
      if (prop === "connect" && duplicate)
        return (...a: unknown[]) => {
          const r = fn.apply(target, a);
          startup.connections.push(Promise.resolve(r).catch(() => undefined));
          return r;
        };
      if (typeof prop === "string" && unawaited.has(prop))
        return (...a: unknown[]) => {
          const r = fn.apply(target, a);
          if (prop === "subscribe" || prop === "sSubscribe") startup.subscriptions.push(Promise.resolve(r));
          return r instanceof Promise
            ? r.catch((err: unknown) =>
                log.debug("a Redis command of the adapter failed", {
                  command: prop,
                  error: err instanceof Error ? err.message : String(err),
                }),
              )
            : r;
        };
      if (prop === "sendCommand")
        return (...a: unknown[]) => {
          const r = fn.apply(target, a);
          const args = a[0];
          const numsub = Array.isArray(args) && args[0] === "PUBSUB";
          return numsub && r instanceof Promise ? r.catch(() => [args[2], "1"]) : r;
        };
      return fn.bind(target);
    },
  });
}

/** How long the first connection may take before the server gives up starting. */
const FIRST_CONNECT_MS = 10_000;

/**
 * Connects to Redis at `url` and makes the Streams adapter over it (its events in the stream `streamName`). Fails
 * with a clear error when Redis cannot be reached within 10 s, so a replica never runs cut off from the others.
 */
export async function connectRedis(
  url: string,
  opts: { logger: Logger; streamName?: string; firstConnectMs?: number },
): Promise<RedisLink> {
  if (!isRedisUrl(url))
    throw new ValidationError([{ where: "--redis", message: "expects a redis:// or rediss:// URL" }]);
  const log = opts.logger;
  const shownUrl = redactUrl(url);
  const deadline = Date.now() + (opts.firstConnectMs ?? FIRST_CONNECT_MS);
  let ready = false;
  let everReady = false;
  let lastError = "";
  const client: RedisClient = createClient({
    url,
    socket: {
      connectTimeout: 5000,
      // Before the first connection: retry until the deadline, then fail the start. After it: always retry.
      reconnectStrategy: (retries, cause) => {
        lastError = cause instanceof Error ? cause.message : String(cause);
        if (!everReady && Date.now() >= deadline) return new Error(lastError);
        return Math.min(100 * 2 ** Math.min(retries, 5), 2000);
      },
    },
  });
  const listeners = new Set<() => void>();
  client.on("error", (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (ready) log.warn("lost the connection to Redis; reconnecting", { redis: shownUrl, error: message });
    ready = false;
  });
  client.on("ready", () => {
    const again = everReady && !ready;
    ready = true;
    everReady = true;
    if (!again) return;
    log.info("connected to Redis again", { redis: shownUrl });
    for (const fn of listeners) fn();
  });
  try {
    await client.connect();
  } catch (err) {
    if (client.isOpen) client.destroy();
    throw new EgresslabError(
      "unavailable",
      `cannot reach Redis at ${shownUrl}: ${lastError || (err instanceof Error ? err.message : String(err))}`,
    );
  }
  const startup: Startup = { connections: [], subscriptions: [] };
  const adapter = createAdapter(guarded(client, log, startup), {
    streamName: opts.streamName ?? "egresslab:socket.io",
    channelPrefix: opts.streamName ?? "egresslab:socket.io",
    sessionKeyPrefix: `${opts.streamName ?? "egresslab:socket.io"}:session:`,
    // Events are JSON; no Buffers travel between replicas.
    onlyPlaintext: true,
    // A reader blocked on the stream notices a closing server within a second.
    blockTimeInMs: 1000,
  });
  return {
    adapter,
    shownUrl,
    get up() {
      return ready;
    },
    onReconnect(fn) {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    async ping() {
      await client.ping();
    },
    async settled() {
      // The adapter makes a stream reader and a subscriber, and subscribes once its namespace exists.
      const deadline = Date.now() + 10_000;
      while ((startup.connections.length < 2 || !startup.subscriptions.length) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await Promise.all([
        ...startup.connections,
        ...startup.subscriptions.map((p) => p.catch(() => undefined)),
      ]);
      // The reader's first XREAD (from "$", the stream's end) goes out just after it connects.
      await new Promise((r) => setTimeout(r, 50));
    },
    async close() {
      listeners.clear();
      ready = false;
      if (!client.isOpen) return;
      // Commands in flight (the pages' sessions saved as their sockets close) finish first; a Redis that is away
      // is not waited for long.
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        client.close().then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), 2000))),
      ]);
      clearTimeout(timer);
      if (!closed && client.isOpen) client.destroy();
    },
  };
}
