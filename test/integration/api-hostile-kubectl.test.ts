/**
 * The attacks of issue 9 as an attendee types them, with the real kubectl: prototype keys through every patch type
 * and apply, names that path normalisation would change, a wrong DELETE precondition, system metadata. The other
 * attendee's cluster stays byte-identical and keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlEnv, type Kubectl, type KubectlEnv } from "../helpers/kubectl.ts";
import { diffSnapshots, prototypeIsClean, snapshotCluster } from "../helpers/hostile.ts";

let env: KubectlEnv;
let attacker: Kubectl;
let victim: Kubectl;

beforeAll(async () => {
  env = await startKubectlEnv();
  attacker = await env.cluster({ id: "attacker" });
  victim = await env.cluster({ id: "victim" });
}, 60_000);
afterAll(async () => {
  await env?.close();
});

describe("hostile kubectl", () => {
  it("prototype keys in every patch type and apply change nothing outside the attacker's object", async () => {
    const before = snapshotCluster(env.host, "victim");
    const attempts: string[][] = [
      [
        "patch",
        "cm",
        "kube-root-ca.crt",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/__proto__/x","value":"y"}]',
      ],
      [
        "patch",
        "cm",
        "kube-root-ca.crt",
        "--type=json",
        "-p",
        '[{"op":"copy","from":"/metadata","path":"/__proto__/loop"}]',
      ],
      [
        "patch",
        "cm",
        "kube-root-ca.crt",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/constructor/prototype/instructor","value":"y"}]',
      ],
      [
        "patch",
        "cm",
        "kube-root-ca.crt",
        "--type=merge",
        "-p",
        '{"__proto__":{"x":"y"},"metadata":{"labels":{"__proto__":{"x":"y"}}}}',
      ],
      [
        "patch",
        "cm",
        "kube-root-ca.crt",
        "--type=strategic",
        "-p",
        '{"constructor":{"prototype":{"x":"y"}}}',
      ],
    ];
    for (const args of attempts) {
      const r = await attacker(args);
      expect(r.stderr).not.toMatch(/InternalError|Internal error/);
      expect(prototypeIsClean()).toBe(true);
    }
    const applied = await attacker(["apply", "--server-side", "-f", "-"], {
      input: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  __proto__:\n    x: y\ndata:\n  __proto__: "kept as data"\n`,
    });
    expect(applied.stderr).not.toMatch(/InternalError/);
    expect(prototypeIsClean()).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(diffSnapshots(before, snapshotCluster(env.host, "victim"))).toEqual([]);
    const list = await victim(["get", "cm", "-A", "-o", "name"]);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toContain("configmap/kube-root-ca.crt");
  });

  it("refuses names `.` and `..`, a forged deletionTimestamp, a bad config key and the selector `,`", async () => {
    await attacker(["create", "configmap", "keep"]);
    const dot = await attacker(["delete", "configmap", "."]);
    expect(dot.exitCode).not.toBe(0);
    const dotdot = await attacker([
      "patch",
      "configmap",
      "..",
      "--type=merge",
      "-p",
      '{"metadata":{"labels":{"a":"b"}}}',
    ]);
    expect(dotdot.exitCode).not.toBe(0);
    expect((await attacker(["get", "configmap", "keep"])).exitCode).toBe(0);
    const forged = await attacker([
      "patch",
      "configmap",
      "keep",
      "--type=merge",
      "-p",
      '{"metadata":{"deletionTimestamp":"2020-01-01T00:00:00Z"}}',
    ]);
    expect(forged.exitCode).not.toBe(0);
    expect(forged.stderr).toContain("field is immutable");
    const still = await attacker([
      "get",
      "configmap",
      "keep",
      "-o",
      "jsonpath={.metadata.deletionTimestamp}",
    ]);
    expect(still.exitCode).toBe(0);
    expect(still.stdout).toBe("");
    const bad = await attacker(["create", "configmap", "badkey", "--from-literal=bad key!=x"]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain("a valid config key must consist of alphanumeric characters");
    const sel = await attacker(["get", "configmap", "-l", ","]);
    expect(sel.exitCode).not.toBe(0);
  });
});
