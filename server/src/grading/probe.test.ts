import { describe, expect, it } from "vitest";
import type { ProbeExpectation, ProbeTarget } from "../labs/model/types.ts";
import { inCidr } from "../shared/ipv4.ts";
import { interpretProbe, judgeProbe, probeCommand } from "./probe.ts";

const https: ProbeTarget = { domain: "api.stripe.com", port: 443, protocol: "TCP" };
const dns: ProbeTarget = { domain: "api.stripe.com", port: 53, protocol: "UDP" };
const tcp: ProbeTarget = { ip: "10.0.0.1", port: 5432, protocol: "TCP" };

describe("probeCommand", () => {
  it("builds curl, dig and nc commands", () => {
    const curl = ["curl", "-sS", "-k", "--connect-timeout", "1", "-m", "3", "-w", "\n%{http_code}"];
    expect(probeCommand(https)).toEqual([...curl, "https://api.stripe.com/"]);
    expect(probeCommand(dns)).toEqual(["dig", "+short", "+time=1", "+tries=1", "api.stripe.com"]);
    expect(probeCommand(tcp)).toEqual([...curl.filter((a) => a !== "-k"), "http://10.0.0.1:5432/"]);
    expect(probeCommand({ ...tcp, protocol: "UDP" })).toEqual([
      "nc",
      "-z",
      "-u",
      "-w",
      "1",
      "10.0.0.1",
      "5432",
    ]);
    const svc: ProbeTarget = { service: { name: "catalog", namespace: "shop" }, port: 8080, protocol: "TCP" };
    expect(probeCommand(svc)).toEqual([...curl, "http://catalog.shop.svc.cluster.local:8080/"]);
    expect(probeCommand(https, 500).slice(3, 7)).toEqual(["--connect-timeout", "0.5", "-m", "2.5"]);
    expect(probeCommand(dns, 500)).toEqual(["dig", "+short", "+time=1", "+tries=1", "api.stripe.com"]);
  });
});

describe("interpretProbe", () => {
  it.each([
    [https, 0, "ok\n200", "", "allowed"],
    [https, 6, "\n000", "curl: (6) Could not resolve host: api.stripe.com", "dns-failure"],
    [https, 7, "\n000", "curl: (7) Failed to connect", "refused"],
    [https, 28, "\n000", "curl: (28) Connection timed out after 2001 milliseconds", "denied"],
    [https, 28, "\n000", "curl: (28) Resolving timed out after 1000 milliseconds", "dns-failure"],
    [https, 35, "\n000", "curl: (35) TLS", "allowed"],
    [https, 127, "", "sh: curl: not found", "error"],
    [dns, 0, "api.stripe.com.cdn.example.\n52.1.2.3\n52.1.2.4\n", "", "resolves"],
    [dns, 0, "", "", "dns-failure"],
    [
      dns,
      9,
      ";; communications error to 10.96.0.10#53: timed out\n;; no servers could be reached\n",
      "",
      "dns-failure",
    ],
    [tcp, 52, "\n000", "curl: (52) Empty reply from server", "allowed"],
    [tcp, 28, "\n000", "curl: (28) Connection timed out", "denied"],
    [tcp, 7, "\n000", "curl: (7) Failed to connect to 10.0.0.1 port 5432: Connection refused", "refused"],
    [{ ...tcp, protocol: "UDP" as const }, 0, "", "", "allowed"],
    [
      { ...tcp, protocol: "UDP" as const, domain: "db.example", ip: undefined },
      1,
      "",
      "nc: bad address 'db.example'",
      "dns-failure",
    ],
    [{ ...tcp, protocol: "UDP" as const }, 1, "", "", "denied"],
  ])("%o exit %i → %s", (t, code, stdout, stderr, want) => {
    expect(interpretProbe(t, { code, stdout, stderr }).outcome).toBe(want);
  });
  it("reads the HTTP status and the source IP an echo service reports", () => {
    const o = interpretProbe(https, { code: 0, stdout: '{"ip":"10.10.10.1"}\n200', stderr: "" });
    expect(o).toMatchObject({ outcome: "allowed", status: 200, sourceIp: "10.10.10.1" });
  });
});

describe("judgeProbe", () => {
  const allowed = { outcome: "allowed" as const, status: 403, sourceIp: "172.18.0.3", detail: "" };
  const denied = { outcome: "denied" as const, detail: "" };
  const nx = { outcome: "dns-failure" as const, detail: "" };
  it.each<[ProbeExpectation, typeof allowed | typeof denied | typeof nx, boolean]>([
    [{ outcome: "allowed" }, allowed, true],
    [{ outcome: "allowed" }, denied, false],
    [{ outcome: "denied" }, denied, true],
    [{ outcome: "denied" }, nx, false],
    [{ outcome: "blocked" }, nx, true],
    [{ outcome: "blocked" }, denied, true],
    [{ outcome: "blocked" }, allowed, false],
    [{ outcome: "status", status: 200 }, allowed, false],
    [{ outcome: "status", status: 403 }, allowed, true],
    [{ outcome: "source-ip", in: "10.10.10.0/30" }, allowed, false],
    [{ outcome: "source-ip", in: "172.18.0.0/16" }, allowed, true],
    [{ outcome: "source-ip", notIn: "172.18.0.0/16" }, allowed, false],
    [{ outcome: "source-ip", equals: "172.18.0.3" }, allowed, true],
    [{ outcome: "source-ip", in: "172.18.0.0/16" }, denied, false],
  ])("%o vs %o → %s", (e, o, want) => {
    expect(judgeProbe(e, o)).toBe(want);
  });
  it("tests CIDR membership", () => {
    expect(inCidr("10.10.10.3", "10.10.10.0/30")).toBe(true);
    expect(inCidr("10.10.10.4", "10.10.10.0/30")).toBe(false);
    expect(inCidr("1.2.3.4", "0.0.0.0/0")).toBe(true);
  });
});
