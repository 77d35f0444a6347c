import { describe, expect, it } from "vitest";
import { labDir, replicaProblems, serveCommand, serveOptionSpecs } from "./serve.ts";
import { formatHelp, parseOptions } from "../config/options.ts";
import { NotFoundError, ValidationError } from "../shared/errors.ts";

describe("egresslab serve options", () => {
  it("defaults to localhost:3000, .egresslab, the egress workshop, multi-user, a warm pool", () => {
    const o = parseOptions(serveOptionSpecs, [], {});
    expect(o).toMatchObject({
      port: 3000,
      host: "127.0.0.1",
      data: ".egresslab",
      lab: "egress-workshop",
      local: false,
      pool: 2,
      "idle-timeout": 1800,
    });
  });

  it.each([
    {
      argv: ["--port", "4000", "--local", "--pool", "0"],
      env: {},
      want: { port: 4000, local: true, pool: 0 },
    },
    {
      argv: [],
      env: { EGRESSLAB_PORT: "5000", EGRESSLAB_JOIN_CODE: "k8s", EGRESSLAB_LOCAL: "true" },
      want: { port: 5000, "join-code": "k8s", local: true },
    },
    { argv: ["--port", "6000"], env: { EGRESSLAB_PORT: "5000" }, want: { port: 6000 } },
    { argv: ["--provider", "kind"], env: {}, want: { provider: "kind" } },
    {
      argv: ["--replica", "web-0", "--advertise", "http://10.0.0.7:3000"],
      env: {},
      want: { replica: "web-0", advertise: "http://10.0.0.7:3000" },
    },
    {
      argv: [],
      env: { EGRESSLAB_REPLICA: "egresslab-7d9f-x2", EGRESSLAB_ADVERTISE: "http://10.1.2.3:3000" },
      want: { replica: "egresslab-7d9f-x2", advertise: "http://10.1.2.3:3000" },
    },
  ])("reads $argv with $env", ({ argv, env, want }) => {
    expect(parseOptions(serveOptionSpecs, argv, env)).toMatchObject(want);
  });

  it("checks the replica's name and address, every problem at once", () => {
    expect(replicaProblems("egresslab-0", "https://egl-0.egl.svc:3000")).toEqual([]);
    expect(replicaProblems(undefined, undefined)).toEqual([]);
    for (const bad of ["", "-a", "a b", "a;Path=/", "x".repeat(64), "ünï"])
      expect(replicaProblems(bad, undefined).map((p) => p.where)).toEqual(["--replica"]);
    for (const bad of ["10.0.0.7:3000", "ftp://x", "http://u:p@x", "http://x/?a=1", "not a url"])
      expect(replicaProblems(undefined, bad).map((p) => p.where)).toEqual(["--advertise"]);
    expect(replicaProblems("a b", "x").map((p) => p.where)).toEqual(["--replica", "--advertise"]);
  });

  it("lists every bad option at once", () => {
    try {
      parseOptions(serveOptionSpecs, ["--port", "x", "--provider", "docker", "--nope"], {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).problems.map((p) => p.where)).toEqual([
        "--port",
        "--provider",
        "--nope",
      ]);
    }
  });

  it("documents each option with its environment variable", () => {
    const help = formatHelp("egresslab serve [options]", serveOptionSpecs);
    for (const [flag, env] of [
      ["--port", "EGRESSLAB_PORT"],
      ["--join-code", "EGRESSLAB_JOIN_CODE"],
      ["--idle-timeout", "EGRESSLAB_IDLE_TIMEOUT"],
      ["--pool", "EGRESSLAB_POOL"],
      ["--local", "EGRESSLAB_LOCAL"],
    ])
      expect(help).toMatch(new RegExp(`${flag}.*${env}`));
  });

  it("finds a lab by id under labs/ or by directory, and says so when there is none", async () => {
    expect(labDir("egress-workshop")).toMatch(/labs\/egress-workshop$/);
    expect(labDir("./test/e2e/fixtures/mini-lab")).toMatch(/mini-lab$/);
    expect(() => labDir("no-such-lab")).toThrow(NotFoundError);
    await expect(serveCommand.run(["--lab", "no-such-lab", "--local"])).rejects.toThrow(
      /there is no lab "no-such-lab"/,
    );
  });
});
