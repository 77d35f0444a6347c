/** One running call per key, shared: a call for a key still being worked on joins it (e.g. two acquires of one id). */
export class InFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** Returns the promise already running for `key`, or starts one with `start`; the key is forgotten once it settles. */
  run(key: string, start: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (running) return running;
    const p = start().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }
}
