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
  const adapter = createAdapter(client, {
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
    async close() {
      listeners.clear();
      ready = false;
      if (client.isOpen) client.destroy();
      await Promise.resolve();
    },
  };
}
