/** `jq` in the toolbox image: the filters the lab's guide runs on Whisker's flows, and what it refuses honestly. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCluster, type TestCluster } from "../../net/testkit.ts";

let c: TestCluster;
beforeAll(() => {
  c = createTestCluster({ traffic: false });
  c.addPod({ name: "toolbox", ip: "192.168.1.12", image: "alpine/k8s:1.32.3" });
});
afterAll(() => c.close());

const jq = (args: string[], stdin: string) => c.exec("default", "toolbox", ["jq", ...args], { stdin });

const flow = (o: Record<string, unknown>) => ({
  source_namespace: "shop",
  source_name: "api-*",
  dest_name: "PUBLIC NETWORK",
  dest_port: 443,
  reporter: "Src",
  action: "Allow",
  policies: { enforced: [], pending: [] },
  ...o,
});
const flows = JSON.stringify({
  total: { totalPages: 1 },
  items: [
    flow({ dest_domains: ["api.stripe.com"] }),
    flow({ source_name: "worker-*", dest_port: 80, action: "Deny", dest_domains: ["c2.evil.example"] }),
    flow({ reporter: "Dst", source_namespace: "ops" }),
    flow({
      source_name: "batch-*",
      policies: { enforced: [], pending: [{ action: "Pass" }, { action: "Deny" }] },
    }),
  ],
});

describe("jq", () => {
  it("runs the guide's stage-0 filter: select, and, object construction, -c", async () => {
    const r = await jq(
      [
        "-c",
        '.items[] | select(.source_namespace == "shop" and .reporter == "Src" and .action == "Allow") | {source_name, dest_name, dest_domains, dest_port}',
      ],
      flows,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      '{"source_name":"api-*","dest_name":"PUBLIC NETWORK","dest_domains":["api.stripe.com"],"dest_port":443}\n' +
        '{"source_name":"batch-*","dest_name":"PUBLIC NETWORK","dest_domains":null,"dest_port":443}\n',
    );
  });

  it("runs the guide's stage-1 filter: //, last, nested select, string interpolation, -r", async () => {
    const r = await jq(
      [
        "-r",
        '.items[] | select(.source_namespace == "shop" and .reporter == "Src") | select([.policies.pending // [] | .[] | select(.action != "Pass") | .action] | last == "Deny") | "\\(.source_namespace)/\\(.source_name) → \\((.dest_domains // [])[0] // .dest_name):\\(.dest_port)  now: \\(.action), staged: Deny"',
      ],
      flows,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("shop/batch-* → PUBLIC NETWORK:443  now: Allow, staged: Deny\n");
  });

  it("index, wrapping objects, pretty printing by default", async () => {
    const r = await jq(
      [
        '.items[] | select(.dest_domains // [] | index("c2.evil.example")) | {source_namespace, source_name, action}',
      ],
      flows,
    );
    expect(r.stdout).toBe(
      '{\n  "source_namespace": "shop",\n  "source_name": "worker-*",\n  "action": "Deny"\n}\n',
    );
    const wrap = await jq(
      ["-c", '{items: [.items[] | select(.reporter == "Dst")]} | .items | length'],
      flows,
    );
    expect(wrap.stdout).toBe("1\n");
    expect((await jq(["."], '{"a":[1,2]}')).stdout).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}\n');
    expect((await jq(["-r", '.a | map(. * 2) | join(",")'], '{"a":[1,2]}')).stdout).toBe("2,4\n");
  });

  it("fails as jq does on bad input and bad filters, and says plainly what it does not support", async () => {
    expect(await jq([".a.b"], '{"a":5}')).toMatchObject({
      code: 5,
      stderr: 'jq: error (at <stdin>:0): Cannot index number with "b"\n',
    });
    const syntax = await jq([".a |"], "{}");
    expect(syntax.code).toBe(3);
    expect(syntax.stderr).toMatch(
      /^jq: error: syntax error, unexpected end of file .*\njq: 1 compile error\n$/s,
    );
    const def = await jq(["def f: .; f"], "{}");
    expect(def.code).toBe(3);
    expect(def.stderr).toContain("'def' is not supported by the simulated pod's jq");
    expect((await jq(["."], "not json")).code).toBe(5);
  });

  it("a filter that multiplies its work is stopped, not left to hold the event loop", async () => {
    const big = JSON.stringify(Array.from({ length: 2000 }, (_, i) => i));
    const r = await jq(["-c", "[.[] as $x | $x]"], big);
    expect(r.code).toBe(3);
    const cartesian = await jq(["-c", "[{a: .[], b: .[]}] | length"], big);
    expect(cartesian.code).toBe(5);
    expect(cartesian.stderr).toContain("too much work");
  });
});
