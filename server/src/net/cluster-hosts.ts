/**
 * What the simulated CoreDNS takes from its Corefile: the `hosts` of the lab's internet block in `kube-system/coredns`
 * (`corefile-block.ts`), as the real CoreDNS of a kind cluster answers them. Read from the store, parsed again only
 * when the ConfigMap changes.
 */
import type { ObjectStore } from "../store/types.ts";
import { inBlockZones, readLabBlock, type LabBlock } from "./corefile-block.ts";

export class ClusterHosts {
  private seen: string | undefined;
  private block: LabBlock | undefined;
  private byIp = new Map<string, string[]>();

  constructor(private readonly store: ObjectStore) {}

  private current(): LabBlock | undefined {
    const cm = this.store.get("core/configmaps", "kube-system", "coredns");
    const version = cm ? `${cm.metadata.uid ?? ""}/${cm.metadata.resourceVersion ?? ""}` : undefined;
    if (version === this.seen) return this.block;
    this.seen = version;
    const text = (cm?.data as Record<string, unknown> | undefined)?.Corefile;
    this.block = typeof text === "string" ? readLabBlock(text) : undefined;
    this.byIp = new Map();
    for (const r of this.block?.rotations ?? [])
      for (const ip of r.ips) this.byIp.set(ip, [...(this.byIp.get(ip) ?? []), r.domain]);
    return this.block;
  }

  /** CoreDNS's `hosts` answer for a name (its addresses and TTL), or undefined when it falls through. */
  answer(name: string): { ips: string[]; ttl: number } | undefined {
    const block = this.current();
    if (!block || !inBlockZones(block, name)) return undefined;
    const n = name.toLowerCase().replace(/\.$/, "");
    const r = block.rotations.find((x) => x.domain === n);
    return r && r.ips.length ? { ips: [...r.ips], ttl: block.ttl } : undefined;
  }

  /** The names the `hosts` stanza gives an address. */
  namesOn(ip: string): readonly string[] {
    this.current();
    return this.byIp.get(ip) ?? [];
  }
}
