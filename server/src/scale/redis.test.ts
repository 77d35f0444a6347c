import { describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { connectRedis, redactUrl } from "./redis.ts";
import { noopLogger } from "../shared/logger.ts";

describe("the Redis link", () => {
  it("never shows a password in what it logs", () => {
    expect(redactUrl("redis://:s3cret@redis.internal:6379/0")).toBe("redis://:***@redis.internal:6379/0");
    expect(redactUrl("rediss://user:s3cret@r:6380")).toBe("rediss://user:***@r:6380");
    expect(redactUrl("redis://r:6379")).toBe("redis://r:6379");
    expect(redactUrl("not a url")).not.toContain("not a url");
  });

  it("refuses a URL that is not Redis's, listing where", async () => {
    await expect(connectRedis("http://r:6379", { logger: noopLogger })).rejects.toMatchObject({
      problems: [{ where: "--redis" }],
    });
  });

  it("fails the start with a clear error when Redis cannot be reached, without its password", async () => {
    // A port that takes connections and never answers, then closes them: not Redis.
    const dead = createServer((s) => s.destroy());
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as { port: number }).port;
    try {
      const err = await connectRedis(`redis://:pw@127.0.0.1:${port}`, {
        logger: noopLogger,
        firstConnectMs: 300,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(
        /^cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: /,
      );
      expect((err as Error).message).not.toContain("pw");
    } finally {
      dead.close();
    }
  });
});
