/**
 * Network-set CIDRs indexed by prefix length, so "which sets contain this IP?" costs one lookup per prefix length in
 * use rather than a scan of every set. Results are cached per IP until the sets change.
 */
import type { Cidr, Ip } from "./nets.ts";
import { addTo, removeFrom } from "./selection.ts";

export class NetIndex {
  /** `<version>/<prefix>` → network base → keys. */
  private readonly byPrefix = new Map<string, Map<bigint, Set<string>>>();
  private readonly refs = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  /** Adds `key` under each CIDR. */
  add(key: string, nets: readonly Cidr[]): void {
    this.cache.clear();
    for (const c of nets) {
      const k = `${c.version}/${c.prefix}`;
      let m = this.byPrefix.get(k);
      if (!m) this.byPrefix.set(k, (m = new Map()));
      addTo(m, c.base, key);
      this.refs.set(k, (this.refs.get(k) ?? 0) + 1);
    }
  }

  /** Removes `key` from each CIDR it was added under. */
  remove(key: string, nets: readonly Cidr[]): void {
    this.cache.clear();
    for (const c of nets) {
      const k = `${c.version}/${c.prefix}`;
      const m = this.byPrefix.get(k);
      if (m) {
        removeFrom(m, c.base, key);
        if (!m.size) this.byPrefix.delete(k);
      }
      const n = (this.refs.get(k) ?? 1) - 1;
      if (n <= 0) this.refs.delete(k);
      else this.refs.set(k, n);
    }
  }

  /** Keys whose CIDRs contain `ip` (`text` is its canonical form, the cache key). */
  containing(ip: Ip, text: string): string[] {
    if (!this.refs.size) return [];
    const cached = this.cache.get(text);
    if (cached) return cached;
    const out = new Set<string>();
    const width = ip.version === 4 ? 32 : 128;
    for (const k of this.refs.keys()) {
      const slash = k.indexOf("/");
      if (Number(k.slice(0, slash)) !== ip.version) continue;
      const host = BigInt(width - Number(k.slice(slash + 1)));
      for (const key of this.byPrefix.get(k)?.get((ip.value >> host) << host) ?? []) out.add(key);
    }
    const list = [...out];
    if (this.cache.size >= 100_000) this.cache.clear();
    this.cache.set(text, list);
    return list;
  }
}
