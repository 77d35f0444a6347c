import { describe, expect, it } from "vitest";
import { FlowHub, type FlowListener, type FlowSource } from "./flows.ts";
import type { FlowView } from "./protocol.ts";

const rec = (dest: string, action = "allow") => ({
  source_namespace: "shop",
  source_name: "checkout-*",
  dest_type: "net",
  dest_name: "pub",
  dest_domains: [dest],
  dest_port: 443,
  action,
  reporter: "src",
});

/** A flow source the test drives: `emit` streams a record, `end` ends the stream, `fail` breaks the next list. */
class DrivenSource implements FlowSource {
  records: unknown[] = [];
  lists = 0;
  failNextList = false;
  private onRecord: ((r: unknown) => void) | undefined;
  private finish: (() => void) | undefined;
  async list(): Promise<unknown[]> {
    this.lists++;
    if (this.failNextList) {
      this.failNextList = false;
      throw new Error("connection refused");
    }
    return [...this.records];
  }
  watch(onRecord: (r: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<void> {
    this.onRecord = onRecord;
    return new Promise<void>((resolve) => {
      this.finish = resolve;
      signal.addEventListener("abort", () => resolve(), { once: true });
      onOpen?.();
    });
  }
  emit(r: unknown): void {
    this.records.push(r);
    this.onRecord?.(r);
  }
  end(): void {
    this.finish?.();
  }
}

class Collector implements FlowListener {
  snapshots: FlowView[][] = [];
  updates: FlowView[][] = [];
  errors: string[] = [];
  snapshot(f: FlowView[]): void {
    this.snapshots.push(f);
  }
  update(f: FlowView[]): void {
    this.updates.push(f);
  }
  error(m: string): void {
    this.errors.push(m);
  }
}

const until = async (test: () => boolean): Promise<void> => {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > 5000) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("FlowHub", () => {
  it("shares one stream per cluster, batches updates, and stops when the last page leaves", async () => {
    const src = new DrivenSource();
    src.records.push(rec("a.example"));
    const hub = new FlowHub({ batchMs: 20, retryMs: 10 });
    const one = new Collector();
    const two = new Collector();
    const leaveOne = hub.subscribe("c1", () => src, one);
    await until(() => one.snapshots.length === 1);
    const leaveTwo = hub.subscribe("c1", () => src, two);
    expect(two.snapshots[0]!.map((f) => f.destName)).toEqual(["a.example"]);
    expect(src.lists).toBe(1);
    src.emit(rec("b.example"));
    src.emit(rec("c.example", "deny"));
    await until(() => one.updates.length === 1 && two.updates.length === 1);
    expect(one.updates[0]!.map((f) => f.destName)).toEqual(["b.example", "c.example"]);
    leaveOne();
    expect(hub.size).toBe(1);
    leaveTwo();
    expect(hub.size).toBe(0);
    hub.close();
  });

  it("tells the pages when the stream fails and comes back with a fresh snapshot", async () => {
    const src = new DrivenSource();
    const hub = new FlowHub({ batchMs: 10, retryMs: 10 });
    const page = new Collector();
    hub.subscribe("c1", () => src, page);
    await until(() => page.snapshots.length === 1);
    src.failNextList = true;
    src.records.push(rec("d.example"));
    src.end();
    await until(() => page.errors.length === 1 && page.snapshots.length === 2);
    expect(page.errors[0]).toMatch(/connection refused/);
    expect(page.snapshots[1]!.map((f) => f.destName)).toEqual(["d.example"]);
    hub.close();
  });

  it("keeps at most maxFlows per cluster", async () => {
    const src = new DrivenSource();
    for (let i = 0; i < 10; i++) src.records.push(rec(`h${i}.example`));
    const hub = new FlowHub({ maxFlows: 3 });
    const page = new Collector();
    hub.subscribe("c1", () => src, page);
    await until(() => page.snapshots.length === 1);
    expect(page.snapshots[0]!.map((f) => f.destName).sort()).toEqual([
      "h7.example",
      "h8.example",
      "h9.example",
    ]);
    hub.close();
  });
});
