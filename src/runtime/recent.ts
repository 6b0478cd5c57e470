/**
 * The values most recently set or read, at most `2 × perGeneration` of them: a generation that fills becomes the
 * older one and the one before it is dropped whole. (Evicting a Map's oldest entry one at a time, as an LRU would,
 * leaves holes at the front that every later look-up of the oldest walks: 7% of the pipeline's CPU when most
 * values were new.)
 */
export class Recent<V> {
  private newer = new Map<string, V>();
  private older = new Map<string, V>();

  constructor(private readonly perGeneration: number) {}

  get(key: string): V | undefined {
    const value = this.newer.get(key);
    if (value !== undefined) return value;
    const old = this.older.get(key);
    if (old !== undefined) this.set(key, old); // still in use: carried into the newer generation
    return old;
  }

  set(key: string, value: V): void {
    if (this.newer.size >= this.perGeneration && !this.newer.has(key)) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(key, value);
  }

  delete(key: string): void {
    this.newer.delete(key);
    this.older.delete(key);
  }
}
