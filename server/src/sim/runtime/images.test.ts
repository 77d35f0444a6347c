/** The image table: tools, flavours, ports, what answers there and start-up logs, by image reference. */
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../store/types.ts";
import { imageProfile } from "./images.ts";
import { isDnsServer, podListens, portService } from "./ports.ts";

const pod = (
  containers: { image: string; ports?: { containerPort: number; protocol?: string }[] }[],
): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default" },
  spec: { containers: containers.map((c, i) => ({ name: `c${i}`, ...c })) },
});

describe("imageProfile", () => {
  it.each([
    [
      "nicolaka/netshoot:v0.13",
      "Alpine Linux v3.22",
      ["curl", "wget", "nslookup", "dig", "nc", "ping", "getent", "tar", "bash", "jq"],
      "bind",
      "busybox",
    ],
    ["busybox:1.36", "BusyBox v1.36.1", ["wget", "nslookup", "nc", "ping", "tar"], "busybox", "busybox"],
    [
      "docker.io/library/nginx:1.27",
      "Debian GNU/Linux 12 (bookworm)",
      ["curl", "getent", "tar", "bash"],
      "bind",
      "gnu",
    ],
    // distroless/static and FROM scratch: no program at all, not even a shell or tar.
    ["registry.k8s.io/coredns/coredns:v1.11.3", "Distroless", [], "bind", "none"],
    ["quay.io/calico/whisker-backend:v3.32.1", "Alpine Linux v3.22", [], "busybox", "none"],
    ["quay.io/calico/goldmane:v3.32.1", "Distroless", [], "busybox", "none"],
    ["registry.k8s.io/kube-apiserver:v1.32.2", "Distroless", [], "busybox", "none"],
    [
      "curlimages/curl:8.10.1",
      "Alpine Linux v3.22",
      ["curl", "wget", "nslookup", "nc", "ping", "getent", "tar"],
      "busybox",
      "busybox",
    ],
    [
      "alpine:3.22",
      "Alpine Linux v3.22",
      ["wget", "nslookup", "nc", "ping", "getent", "tar"],
      "busybox",
      "busybox",
    ],
    // The toolbox image: Alpine plus curl, bash and jq (and the clients, which the simulator does not run).
    [
      "alpine/k8s:1.32.3",
      "Alpine Linux v3.22",
      ["curl", "wget", "nslookup", "nc", "ping", "getent", "tar", "bash", "jq"],
      "busybox",
      "busybox",
    ],
    // Not in the table: the common troubleshooting set, so labs keep working.
    [
      "example.com/shop/api:v1",
      "Alpine Linux v3.22",
      ["curl", "wget", "nslookup", "nc", "ping", "getent", "tar"],
      "busybox",
      "busybox",
    ],
    [
      "quay.io/calico/whisker:v3.32.1",
      "Alpine Linux v3.22",
      ["curl", "wget", "nslookup", "nc", "ping", "getent", "tar"],
      "busybox",
      "busybox",
    ],
  ])("%s: %s, tools %j, %s nslookup, %s userland", (image, os, tools, nslookup, userland) => {
    const p = imageProfile(image);
    expect(p.os).toBe(os);
    expect(p.tools).toEqual(tools);
    expect(p.nslookup).toBe(nslookup);
    expect(p.userland).toBe(userland);
  });

  it("the toolbox image ships kubectl and helm, which the simulator does not run, and starts in /apps", () => {
    const k8s = imageProfile("alpine/k8s:1.32.3");
    expect(k8s.unsupported).toEqual(expect.arrayContaining(["kubectl", "helm", "yq"]));
    expect(k8s.workdir).toBe("/apps");
    expect(imageProfile("alpine:3.22").unsupported).toBeUndefined();
  });

  it("matches references case-insensitively, first entry wins", () => {
    expect(imageProfile("NGINX").os).toBe("Debian GNU/Linux 12 (bookworm)");
    // `curlimages/curl` is a busybox-based image but its own entry comes first.
    expect(imageProfile("curlimages/curl").prompt("h")).toBe("~ $ ");
    expect(imageProfile("busybox").prompt("h")).toBe("/ # ");
    expect(imageProfile("debian:12").prompt("web-1")).toBe("root@web-1:/# ");
  });

  it("names the ports an image listens on without declaring them, and what answers there", () => {
    expect(imageProfile("nginx:1.27").ports).toEqual([{ port: 80, protocol: "TCP", serves: "nginx" }]);
    expect(imageProfile("quay.io/calico/whisker:v3.32.1").ports).toEqual([
      { port: 8081, protocol: "TCP", serves: "whisker-ui" },
    ]);
    expect(imageProfile("quay.io/calico/whisker-backend:v3.32.1").ports).toEqual([
      { port: 3002, protocol: "TCP", serves: "whisker-backend" },
    ]);
    expect(
      imageProfile("registry.k8s.io/coredns/coredns:v1.11.3").ports.map((p) => `${p.port}/${p.protocol}`),
    ).toEqual(["53/UDP", "53/TCP", "9153/TCP"]);
    expect(imageProfile("busybox").ports).toEqual([]);
    // `whisker` is matched as an image name, not a substring of another.
    expect(imageProfile("example.com/whiskers:1").ports).toEqual([]);
  });

  it("gives each server image's start-up lines", () => {
    expect(imageProfile("registry.k8s.io/coredns/coredns:v1.11.3").startup("192.168.0.2")[0]).toBe(".:53");
    expect(imageProfile("nginx").startup("192.168.0.2")).toHaveLength(3);
    expect(imageProfile("quay.io/tigera/egress-gateway:v3.22.0").startup("192.168.1.7")[0]).toBe(
      "Egress gateway starting: source address 192.168.1.7",
    );
    expect(imageProfile("busybox").startup("192.168.0.2")).toEqual([]);
  });
});

describe("what listens on a pod's ports", () => {
  it("declared ports, on their protocol", () => {
    const p = pod([
      { image: "busybox", ports: [{ containerPort: 8080 }, { containerPort: 5353, protocol: "UDP" }] },
    ]);
    expect(podListens(p, 8080, "TCP")).toBe(true);
    expect(podListens(p, 8080, "UDP")).toBe(false);
    expect(podListens(p, 5353, "UDP")).toBe(true);
    expect(podListens(p, 80, "TCP")).toBe(false);
    expect(portService(p, 8080)).toBe("pod-name");
  });

  it("the ports of every container's image (containers share the pod's network namespace)", () => {
    const whisker = pod([
      { image: "quay.io/calico/whisker:v3.32.1" },
      { image: "quay.io/calico/whisker-backend:v3.32.1" },
    ]);
    expect(podListens(whisker, 8081, "TCP")).toBe(true);
    expect(podListens(whisker, 3002, "TCP")).toBe(true);
    expect(podListens(whisker, 3002, "UDP")).toBe(false);
    expect(portService(whisker, 8081)).toBe("whisker-ui");
    expect(portService(whisker, 3002)).toBe("whisker-backend");
    const sidecar = pod([{ image: "busybox" }, { image: "nginx:1.27" }]);
    expect(podListens(sidecar, 80, "TCP")).toBe(true);
    expect(portService(sidecar, 80)).toBe("nginx");
  });

  it("nginx answers its page on any declared port; well-known non-HTTP ports stay silent", () => {
    const web = pod([{ image: "nginx", ports: [{ containerPort: 8080 }, { containerPort: 5432 }] }]);
    expect(portService(web, 8080)).toBe("nginx");
    expect(portService(web, 5432)).toBe("silent");
    const dns = pod([{ image: "registry.k8s.io/coredns/coredns:v1.11.3" }]);
    expect(podListens(dns, 53, "UDP")).toBe(true);
    expect(podListens(dns, 9153, "TCP")).toBe(true);
    expect(portService(dns, 53)).toBe("silent");
  });

  it("cluster DNS servers: CoreDNS's image or the kube-dns label", () => {
    expect(isDnsServer(pod([{ image: "registry.k8s.io/coredns/coredns:v1.11.3" }]))).toBe(true);
    const labelled = pod([{ image: "example.com/dns:1" }]);
    labelled.metadata.labels = { "k8s-app": "kube-dns" };
    expect(isDnsServer(labelled)).toBe(true);
    expect(podListens(labelled, 53, "UDP")).toBe(true);
    expect(isDnsServer(pod([{ image: "busybox" }]))).toBe(false);
  });
});
