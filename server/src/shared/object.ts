/**
 * Typed access to decoded JSON objects (what the API server stores and what requests carry), safe for attacker keys:
 * `__proto__`, `constructor` and `prototype` are plain keys here. Reads see own properties only (never
 * `Object.prototype`), writes define own data properties (never the `__proto__` setter), walks use `Object.keys`.
 */

export type JsonObject = Record<string, unknown>;

/** A non-null, non-array object. */
export const isObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** `v` if it is an object, else a new empty one (for reading optional nested objects). */
export const asObject = (v: unknown): JsonObject => (isObject(v) ? v : {});

/** `v` if it is an array, else an empty one. */
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Whether `o` has `key` as its own property (inherited ones, like `constructor`, do not count). */
export const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** The own property `key` of `o`, or undefined (for non-objects, arrays and inherited properties). */
export function getOwn(o: unknown, key: string): unknown {
  return isObject(o) && hasOwn(o, key) ? o[key] : undefined;
}

/** The own string property `key` of `o`, or undefined. */
export function getString(o: unknown, key: string): string | undefined {
  const v = getOwn(o, key);
  return typeof v === "string" ? v : undefined;
}

/** The own object property `key` of `o`, or undefined. */
export function getObject(o: unknown, key: string): JsonObject | undefined {
  const v = getOwn(o, key);
  return isObject(v) ? v : undefined;
}

/** The own array property `key` of `o`, or an empty array. */
export function getArray(o: unknown, key: string): unknown[] {
  return asArray(getOwn(o, key));
}

/** Sets `o[key] = v` as an own data property, also for `__proto__` (where plain assignment would set the prototype). */
export function setOwn(o: JsonObject, key: string, v: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true });
  else o[key] = v;
}

/** Keys that name prototype machinery in JavaScript; attacker input uses them to reach shared objects. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** A deep copy of a JSON value: own enumerable keys only, `undefined` members dropped, `__proto__` kept as data. */
export function cloneJson<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = cloneJson(v[i] as unknown);
    return out as T;
  }
  const src = v as JsonObject;
  const out: JsonObject = {};
  for (const k of Object.keys(src)) {
    const x = src[k];
    if (x !== undefined) setOwn(out, k, cloneJson(x));
  }
  return out as T;
}

/** A Kubernetes timestamp (`metav1.Time`): RFC 3339 in UTC with whole seconds, `2026-01-01T00:00:00Z`. */
export function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** `metav1.Time`'s range (years 0001 to 9999), in seconds since the epoch. */
export const MIN_TIME_SECONDS = -62135596800;
export const MAX_TIME_SECONDS = 253402300799;

/** What `checkTree` found wrong with a value, if anything. */
export type TreeProblem = { problem: "depth"; limit: number } | { problem: "cycle" };

/**
 * Checks, without recursion, that a decoded value is a tree (no object reachable from itself, as YAML aliases can
 * make) nested at most `maxDepth` levels. Visits each node once; returns the number of nodes visited with the first
 * problem found.
 */
export function checkTree(value: unknown, maxDepth: number): { visited: number; problem?: TreeProblem } {
  let visited = 0;
  const onPath = new Set<object>();
  // Each frame is a container and the index of its next child; popping a frame takes it off the path.
  const stack: { node: object; children: unknown[]; next: number }[] = [];
  const enter = (v: unknown): TreeProblem | undefined => {
    visited++;
    if (v === null || typeof v !== "object") return undefined;
    if (onPath.has(v)) return { problem: "cycle" };
    if (stack.length >= maxDepth) return { problem: "depth", limit: maxDepth };
    onPath.add(v);
    const children = Array.isArray(v) ? v : Object.keys(v).map((k) => (v as JsonObject)[k]);
    stack.push({ node: v, children, next: 0 });
    return undefined;
  };
  const first = enter(value);
  if (first) return { visited, problem: first };
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.children.length) {
      onPath.delete(top.node);
      stack.pop();
      continue;
    }
    const p = enter(top.children[top.next++]);
    if (p) return { visited, problem: p };
  }
  return { visited };
}

/**
 * The deepest nesting of `[`/`{` in JSON text, stopping as soon as it passes `limit` (strings are skipped). Linear in
 * the text, no recursion: run it before parsing so nothing recursive ever sees a deeper document.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
