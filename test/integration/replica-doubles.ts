/**
 * Several workshop servers in this process on one Postgres and one Redis, each with its own data directory and fake
 * provider: the replicas of the in-process tests of events and workshop state between replicas.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from "../helpers/services.ts";
import { FakeProvider, fakeLab } from "./web-doubles.ts";
import type { TestSocket } from "./web-client.ts";

export interface Replica {
  server: WorkshopServer;
  provider: FakeProvider;
  dir: string;
}

export class InProcessReplicas {
  readonly replicas: Replica[] = [];
  private readonly sockets: TestSocket[] = [];

  private constructor(
    readonly postgres: PostgresServer,
    readonly redis: RedisServer,
    private readonly instructorToken: string,
  ) {}

  /** Starts a throwaway Postgres and Redis for replicas whose owner's token is `instructorToken`. */
  static async start(instructorToken: string): Promise<InProcessReplicas> {
    const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    return new InProcessReplicas(postgres, redis, instructorToken);
  }

  /**
   * Starts replica `name` on `database`. `solve` gives the lab solutions (an instructor can jump an attendee to a
   * stage); `advertise` is the address its leases name.
   */
  async add(
    name: string,
    database: string,
    opts: { solve?: boolean; advertise?: string } = {},
  ): Promise<Replica> {
    const dir = mkdtempSync(path.join(tmpdir(), `egl-${name}-`));
    const provider = new FakeProvider();
    const lab = fakeLab(provider);
    const server = await startWorkshopServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: dir,
      provider,
      lab: opts.solve ? { ...lab, solve: () => Promise.resolve() } : lab,
      local: true,
      idleTimeoutSeconds: 600,
      pool: 0,
      instructorToken: this.instructorToken,
      checkRate: { burst: 50, perMinute: 600 },
      database,
      redis: this.redis.url,
      replica: name,
      relayBeatMs: 500,
      buildWeb: false,
      ...(opts.advertise ? { advertise: opts.advertise } : {}),
    });
    const replica = { server, provider, dir };
    this.replicas.push(replica);
    return replica;
  }

  /** Closes `s` when the replicas stop. */
  track(s: TestSocket): TestSocket {
    this.sockets.push(s);
    return s;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.close();
    for (const r of this.replicas) {
      await r.server.close();
      rmSync(r.dir, { recursive: true, force: true });
    }
    await this.redis.stop();
    this.postgres.stop();
  }
}

/** Polls `get` until it gives a value (not `undefined` or `false`); fails naming `what` after `ms`. */
export async function until<T>(
  get: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
