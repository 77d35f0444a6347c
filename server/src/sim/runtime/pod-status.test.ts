/** The pod runtime is the only writer of pod status: its writes, and a scan of the server for any other. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../store/types.ts";
import { recordExit, recordStarted, recordUnschedulable, type PodWriter } from "./pod-status.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read deep into Kubernetes JSON */

/** A one-pod store behind the kubelet's write. */
function onePod(pod: KubeObject): PodWriter & { pod: KubeObject; writes: number } {
  const w = {
    pod,
    writes: 0,
    patchInternal(_key: "core/pods", _ns: string | undefined, name: string, mutate: (o: KubeObject) => void) {
      if (name !== w.pod.metadata.name) return undefined;
      const next = structuredClone(w.pod);
      mutate(next);
      w.pod = next;
      w.writes++;
      return next;
    },
  };
  return w;
}

const base = (): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default", uid: "u-1" },
  spec: { restartPolicy: "Never", nodeName: "n1", containers: [{ name: "c", image: "busybox" }] },
  status: { phase: "Pending" },
});

describe("pod status writes", () => {
  it("start: Calico's annotations (not for hostNetwork pods) and a running status", () => {
    const w = onePod(base());
    recordStarted(w, w.pod, { hostIP: "172.18.0.2", ip: "192.168.1.9", hostNetwork: false }, "T");
    expect(w.pod.metadata.annotations?.["cni.projectcalico.org/podIP"]).toBe("192.168.1.9/32");
    expect((w.pod.status as any).phase).toBe("Running");
    const h = onePod(base());
    recordStarted(h, h.pod, { hostIP: "172.18.0.2", ip: "172.18.0.2", hostNetwork: true }, "T");
    expect(h.pod.metadata.annotations).toBeUndefined();
    expect((h.pod.status as any).podIP).toBe("172.18.0.2");
  });

  it("unschedulable: written once per message", () => {
    const w = onePod(base());
    expect(recordUnschedulable(w, w.pod, "0/1 nodes are available: 1 Too many pods.", "T")).toBe(true);
    expect(recordUnschedulable(w, w.pod, "0/1 nodes are available: 1 Too many pods.", "T")).toBe(false);
    expect(w.writes).toBe(1);
  });

  it("an exit is recorded only on the same pod, and not on one being deleted", () => {
    const w = onePod(base());
    recordStarted(w, w.pod, { hostIP: "h", ip: "i", hostNetwork: false }, "T");
    const started = w.pod;
    // A new pod of the same name (another uid): the old one's exit does not touch it.
    w.pod = { ...started, metadata: { ...started.metadata, uid: "u-2" } };
    recordExit(w, started, "c", 1, Date.UTC(2026, 0, 1));
    expect((w.pod.status as any).phase).toBe("Running");
    w.pod = { ...started, metadata: { ...started.metadata, deletionTimestamp: "T" } };
    recordExit(w, started, "c", 1, Date.UTC(2026, 0, 1));
    expect((w.pod.status as any).phase).toBe("Running");
    w.pod = started;
    recordExit(w, started, "c", 1, Date.UTC(2026, 0, 1));
    expect((w.pod.status as any).phase).toBe("Failed");
  });
});

describe("the pod runtime is the only writer of pod status", () => {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? sources(join(dir, e.name))
        : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
          ? [join(dir, e.name)]
          : [],
    );
  /** The text of each `patchInternal("core/pods", …)` call (to its closing parenthesis). */
  const podPatches = (text: string): string[] => {
    const out: string[] = [];
    const re = /patchInternal\(\s*"core\/pods"/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      let depth = 0;
      let i = m.index + "patchInternal".length;
      for (; i < text.length; i++) {
        if (text[i] === "(") depth++;
        else if (text[i] === ")" && --depth === 0) break;
      }
      out.push(text.slice(m.index, i + 1));
    }
    return out;
  };

  it("finds the runtime's own writes (the scan can fail)", () => {
    const own = podPatches(readFileSync(join(root, "sim/runtime/pod-status.ts"), "utf8"));
    expect(own.filter((p) => /\.status\s*=/.test(p))).toHaveLength(3);
  });

  it("no module outside sim/runtime/ sets a pod's status", () => {
    const offenders = sources(root)
      .filter((f) => !f.includes(`${join("sim", "runtime")}`))
      .filter((f) => podPatches(readFileSync(f, "utf8")).some((p) => /\.status\s*=/.test(p)));
    expect(offenders).toEqual([]);
  });
});
