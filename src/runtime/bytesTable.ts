/**
 * A string → bytes hash table kept outside the JavaScript heap: keys and values are copied into large buffers
 * (arena chunks), and an open-addressing index of typed arrays points at them. A million consent-table entries of
 * ~165 bytes take ~200 MB and cost the garbage collector nothing — as a `Map` of strings they took ~250 MB of heap
 * that every major collection walked, and the heap grew to three times that while a restore churned through fetch
 * buffers. (Node has no built-in off-heap map, and an embedded database would add a native dependency and a disk
 * round trip per read.)
 *
 * Record layout in a chunk: key length (uint16), value length (uint32), key (UTF-8), value. A record is never
 * written in place: an update appends and the old bytes become waste, reclaimed by compaction once waste exceeds
 * the live bytes. Views returned by `get` stay valid (they keep their chunk alive).
 */
export class BytesTable {
  private static readonly CHUNK_BYTES = 4 << 20;
  private static readonly EMPTY = 0;
  private static readonly DELETED = -1;
  private static readonly HEADER = 6;

  private chunks: Buffer[] = [];
  /** Write position in the last chunk. */
  private end = BytesTable.CHUNK_BYTES;
  /** Per slot: EMPTY, DELETED, or 1 + chunk × CHUNK_BYTES + offset. */
  private refs = new Float64Array(1024);
  private hashes = new Uint32Array(1024);
  private used = 0; // slots not EMPTY (live + deleted)
  private live = 0;
  private liveBytes = 0;
  private usedBytes = 0;
  private scratch = Buffer.allocUnsafe(256);

  get size(): number {
    return this.live;
  }

  /** Bytes held in chunks (live and waste) plus the index. */
  get memoryBytes(): number {
    return this.chunks.length * BytesTable.CHUNK_BYTES + this.refs.byteLength + this.hashes.byteLength;
  }

  has(key: string): boolean {
    return this.find(key, hashOf(key)) >= 0;
  }

  /** A view of the value's bytes (not a copy). */
  get(key: string): Buffer | undefined {
    const slot = this.find(key, hashOf(key));
    if (slot < 0) return undefined;
    const { chunk, at } = this.locate(this.refs[slot]!);
    const keyLength = chunk.readUInt16LE(at);
    const start = at + BytesTable.HEADER + keyLength;
    return chunk.subarray(start, start + chunk.readUInt32LE(at + 2));
  }

  set(key: string, value: Uint8Array): void {
    const hash = hashOf(key);
    const keyLength = this.encodeKey(key);
    const size = BytesTable.HEADER + keyLength + value.length;
    const ref = this.append(keyLength, value, size);
    const slot = this.find(key, hash, keyLength);
    if (slot >= 0) {
      this.release(this.refs[slot]!);
      this.refs[slot] = ref;
    } else {
      this.insert(hash, ref);
      this.live++;
    }
    this.liveBytes += size;
    this.compactIfWasteful();
  }

  delete(key: string): boolean {
    const slot = this.find(key, hashOf(key));
    if (slot < 0) return false;
    this.release(this.refs[slot]!);
    this.refs[slot] = BytesTable.DELETED;
    this.live--;
    this.compactIfWasteful();
    return true;
  }

  /** Every key, in no particular order; a write during the iteration may make it skip or repeat keys. */
  *keys(): IterableIterator<string> {
    for (let slot = 0; slot < this.refs.length; slot++) {
      const ref = this.refs[slot]!;
      if (ref <= 0) continue;
      const { chunk, at } = this.locate(ref);
      yield chunk.toString('utf8', at + BytesTable.HEADER, at + BytesTable.HEADER + chunk.readUInt16LE(at));
    }
  }

  /** The slot holding `key`, or -1. `keyLength`: the key is in `scratch` already, that long. */
  private find(key: string, hash: number, keyLength = -1): number {
    const mask = this.refs.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const ref = this.refs[slot]!;
      if (ref === BytesTable.EMPTY) return -1;
      if (ref === BytesTable.DELETED || this.hashes[slot] !== hash) continue;
      if (keyLength < 0) keyLength = this.encodeKey(key);
      const { chunk, at } = this.locate(ref);
      if (chunk.readUInt16LE(at) === keyLength && this.scratch.compare(chunk, at + BytesTable.HEADER, at + BytesTable.HEADER + keyLength, 0, keyLength) === 0) return slot;
    }
  }

  private insert(hash: number, ref: number): void {
    if ((this.used + 1) * 10 > this.refs.length * 7) this.rebuild(this.live + 1 > this.refs.length * 0.35 ? this.refs.length * 2 : this.refs.length);
    const mask = this.refs.length - 1;
    let slot = hash & mask;
    while (this.refs[slot]! > 0) slot = (slot + 1) & mask;
    if (this.refs[slot] === BytesTable.EMPTY) this.used++;
    this.refs[slot] = ref;
    this.hashes[slot] = hash;
  }

  /** The key's UTF-8 bytes into `scratch`; their length. */
  private encodeKey(key: string): number {
    if (key.length * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafe(key.length * 3);
    const length = this.scratch.write(key, 'utf8');
    if (length > 0xffff) throw new RangeError(`a store key is ${length} bytes; at most 65,535 are supported`);
    return length;
  }

  private append(keyLength: number, value: Uint8Array, size: number): number {
    if (this.end + size > BytesTable.CHUNK_BYTES || this.chunks.length === 0) {
      // A record larger than a chunk gets a chunk of its own.
      this.chunks.push(Buffer.allocUnsafeSlow(Math.max(BytesTable.CHUNK_BYTES, size)));
      this.end = 0;
    }
    const index = this.chunks.length - 1;
    const chunk = this.chunks[index]!;
    const at = this.end;
    chunk.writeUInt16LE(keyLength, at);
    chunk.writeUInt32LE(value.length, at + 2);
    const keyAt = at + BytesTable.HEADER;
    // A key of a few bytes: a loop costs a third of Buffer#copy's checks and view.
    if (keyLength <= 32) for (let i = 0; i < keyLength; i++) chunk[keyAt + i] = this.scratch[i]!;
    else this.scratch.copy(chunk, keyAt, 0, keyLength);
    chunk.set(value, keyAt + keyLength);
    this.end = size > BytesTable.CHUNK_BYTES ? BytesTable.CHUNK_BYTES : at + size;
    this.usedBytes += size;
    return 1 + index * BytesTable.CHUNK_BYTES + at;
  }

  private locate(ref: number): { chunk: Buffer; at: number } {
    const position = ref - 1;
    const index = Math.floor(position / BytesTable.CHUNK_BYTES);
    return { chunk: this.chunks[index]!, at: position - index * BytesTable.CHUNK_BYTES };
  }

  private recordSize(ref: number): number {
    const { chunk, at } = this.locate(ref);
    return BytesTable.HEADER + chunk.readUInt16LE(at) + chunk.readUInt32LE(at + 2);
  }

  private release(ref: number): void {
    this.liveBytes -= this.recordSize(ref);
  }

  private compactIfWasteful(): void {
    const waste = this.usedBytes - this.liveBytes;
    if (waste > BytesTable.CHUNK_BYTES * 4 && waste > this.liveBytes) this.rebuild(this.refs.length, true);
  }

  /** Re-indexes every live entry into `capacity` slots (dropping deleted ones); with `compact`, copies them into new chunks. */
  private rebuild(capacity: number, compact = false): void {
    const { refs, hashes, chunks } = this;
    this.refs = new Float64Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.used = 0;
    if (compact) {
      this.chunks = [];
      this.end = BytesTable.CHUNK_BYTES;
      this.usedBytes = 0;
    }
    const mask = capacity - 1;
    for (let i = 0; i < refs.length; i++) {
      let ref = refs[i]!;
      if (ref <= 0) continue;
      if (compact) {
        const position = ref - 1;
        const index = Math.floor(position / BytesTable.CHUNK_BYTES);
        const chunk = chunks[index]!;
        const at = position - index * BytesTable.CHUNK_BYTES;
        const keyLength = chunk.readUInt16LE(at);
        const start = at + BytesTable.HEADER;
        chunk.copy(this.scratchFor(keyLength), 0, start, start + keyLength);
        ref = this.append(keyLength, chunk.subarray(start + keyLength, start + keyLength + chunk.readUInt32LE(at + 2)), BytesTable.HEADER + keyLength + chunk.readUInt32LE(at + 2));
      }
      let slot = hashes[i]! & mask;
      while (this.refs[slot] !== BytesTable.EMPTY) slot = (slot + 1) & mask;
      this.refs[slot] = ref;
      this.hashes[slot] = hashes[i]!;
      this.used++;
    }
  }

  private scratchFor(length: number): Buffer {
    if (length > this.scratch.length) this.scratch = Buffer.allocUnsafe(length);
    return this.scratch;
  }
}

/** FNV-1a over the UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
