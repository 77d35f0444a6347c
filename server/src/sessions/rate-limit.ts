/**
 * A token bucket per key: `burst` actions at once, refilled at `perMinute`. A key whose bucket has refilled is
 * forgotten (it is the same as a key never seen), and at most `maxKeys` keys are kept (the least recently used go
 * first), so a stream of new addresses cannot grow memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep: number;

  constructor(
    private readonly burst: number,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {
    this.lastSweep = now();
  }

  /** Takes one token for `key`; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const t = this.now();
    this.sweep(t);
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, t - b.at) / 60_000) * this.perMinute);
    b.at = t;
    // Re-inserted so that the map's order is least recently used first.
    this.buckets.delete(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      this.evict();
      return 0;
    }
    this.buckets.set(key, b);
    this.evict();
    return Math.ceil(((1 - b.tokens) * 60) / this.perMinute);
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.buckets.size;
  }

  /** The time a bucket with `tokens` needs to be full again. */
  private refillMs(tokens: number): number {
    return ((this.burst - tokens) / this.perMinute) * 60_000;
  }

  /** Forgets buckets that have refilled; at most once a second, and only over the keys remembered. */
  private sweep(t: number): void {
    if (t - this.lastSweep < 1000) return;
    this.lastSweep = t;
    for (const [key, b] of this.buckets) if (t - b.at >= this.refillMs(b.tokens)) this.buckets.delete(key);
  }

  private evict(): void {
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) return;
      this.buckets.delete(oldest.value);
    }
  }
}
