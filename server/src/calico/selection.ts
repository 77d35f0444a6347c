/**
 * Which policies select which endpoints, kept up to date incrementally (in the spirit of Felix's label index).
 * Endpoints are indexed by label and value; each policy is indexed by one label (and its values) its selector
 * requires, when there is one. An endpoint change tests only the policies indexed under its labels (plus the
 * unindexed ones); a policy change tests only the endpoints carrying its index label.
 */
import type { ParsedSelector } from "./selector.ts";

type IndexEntry = { label: string; values?: string[] } | undefined;

export function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

export function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (!s.size) m.delete(k);
}

/** The label (and values) a selector's every match must carry, preferring the most selective one. */
function indexEntryFor(selector: ParsedSelector): IndexEntry {
  let best: IndexEntry;
  for (const [label, r] of selector.labelRestrictions()) {
    if (!r.mustBePresent) continue;
    if (r.oneOf) {
      if (!best || best.values === undefined || r.oneOf.length < best.values.length)
        best = { label, values: r.oneOf };
    } else if (!best) best = { label };
  }
  return best;
}

export class SelectionIndex {
  private readonly endpoints = new Map<string, Record<string, string>>();
  /** label → value → endpoint keys. */
  private readonly byLabel = new Map<string, Map<string, Set<string>>>();
  private readonly selectors = new Map<string, ParsedSelector>();
  private readonly polByValue = new Map<string, Map<string, Set<string>>>();
  private readonly polByLabel = new Map<string, Set<string>>();
  private readonly polUnindexed = new Set<string>();
  private readonly polEntry = new Map<string, IndexEntry>();
  private readonly selects = new Map<string, Set<string>>();
  private readonly selectedBy = new Map<string, Set<string>>();

  /** The policies selecting an endpoint. */
  policiesOf(endpoint: string): ReadonlySet<string> {
    return this.selectedBy.get(endpoint) ?? new Set();
  }

  /** The endpoints a policy selects. */
  endpointsOf(policy: string): ReadonlySet<string> {
    return this.selects.get(policy) ?? new Set();
  }

  /** Adds, changes (labels) or removes (undefined) an endpoint; returns whether its set of policies changed. */
  setEndpoint(key: string, labels: Record<string, string> | undefined): boolean {
    const old = this.endpoints.get(key);
    if (old) {
      for (const [k, v] of Object.entries(old)) {
        const byVal = this.byLabel.get(k);
        if (byVal) {
          removeFrom(byVal, v, key);
          if (!byVal.size) this.byLabel.delete(k);
        }
      }
      this.endpoints.delete(key);
    }
    if (labels) {
      this.endpoints.set(key, labels);
      for (const [k, v] of Object.entries(labels)) {
        let byVal = this.byLabel.get(k);
        if (!byVal) this.byLabel.set(k, (byVal = new Map()));
        addTo(byVal, v, key);
      }
    }
    const before = this.selectedBy.get(key) ?? new Set<string>();
    const after = new Set<string>();
    if (labels)
      for (const pk of this.candidatePolicies(labels))
        if (this.selectors.get(pk)?.matches(labels)) after.add(pk);
    let changed = before.size !== after.size;
    for (const pk of before)
      if (!after.has(pk)) {
        removeFrom(this.selects, pk, key);
        changed = true;
      }
    for (const pk of after) if (!before.has(pk)) addTo(this.selects, pk, key);
    if (after.size) this.selectedBy.set(key, after);
    else this.selectedBy.delete(key);
    return changed;
  }

  /** Adds, replaces or removes (undefined) a policy's selector; returns the endpoints selected before or after. */
  setPolicy(key: string, selector: ParsedSelector | undefined): Set<string> {
    const touched = new Set(this.selects.get(key) ?? []);
    if (this.selectors.has(key)) {
      this.unindex(key);
      for (const ek of touched) removeFrom(this.selectedBy, ek, key);
      this.selects.delete(key);
      this.selectors.delete(key);
    }
    if (!selector) return touched;
    this.selectors.set(key, selector);
    this.index(key, selector);
    const selected = new Set<string>();
    for (const ek of this.candidateEndpoints(key)) {
      const labels = this.endpoints.get(ek);
      if (labels && selector.matches(labels)) selected.add(ek);
    }
    if (selected.size) this.selects.set(key, selected);
    for (const ek of selected) {
      addTo(this.selectedBy, ek, key);
      touched.add(ek);
    }
    return touched;
  }

  private index(key: string, selector: ParsedSelector): void {
    const entry = indexEntryFor(selector);
    this.polEntry.set(key, entry);
    if (!entry) this.polUnindexed.add(key);
    else if (entry.values) {
      let byVal = this.polByValue.get(entry.label);
      if (!byVal) this.polByValue.set(entry.label, (byVal = new Map()));
      for (const v of entry.values) addTo(byVal, v, key);
    } else addTo(this.polByLabel, entry.label, key);
  }

  private unindex(key: string): void {
    const entry = this.polEntry.get(key);
    this.polEntry.delete(key);
    this.polUnindexed.delete(key);
    if (!entry) return;
    if (entry.values) {
      const byVal = this.polByValue.get(entry.label);
      if (byVal) {
        for (const v of entry.values) removeFrom(byVal, v, key);
        if (!byVal.size) this.polByValue.delete(entry.label);
      }
    } else removeFrom(this.polByLabel, entry.label, key);
  }

  private candidatePolicies(labels: Record<string, string>): Set<string> {
    const out = new Set(this.polUnindexed);
    for (const [k, v] of Object.entries(labels)) {
      for (const key of this.polByValue.get(k)?.get(v) ?? []) out.add(key);
      for (const key of this.polByLabel.get(k) ?? []) out.add(key);
    }
    return out;
  }

  private candidateEndpoints(policy: string): Iterable<string> {
    const entry = this.polEntry.get(policy);
    if (!entry) return this.endpoints.keys();
    const byVal = this.byLabel.get(entry.label);
    if (!byVal) return [];
    const out = new Set<string>();
    for (const v of entry.values ?? byVal.keys()) for (const key of byVal.get(v) ?? []) out.add(key);
    return out;
  }
}
