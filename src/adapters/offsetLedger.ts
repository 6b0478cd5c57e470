import type { Db, Queryable } from './postgres.ts';

/** Where a batch of one partition ends: the offset the connector resumes from once the batch is committed. */
export interface BatchEnd {
  consumer: string;
  topic: string;
  partition: number;
  /** The first offset of the batch and the one after its last record. */
  from: bigint;
  next: bigint;
}

/**
 * Consumed offsets kept in the database beside what was written from them: each batch's writes and the partition's
 * next offset commit in one transaction, after checking that offset — so a batch delivered again after a crash, or
 * by a partition's previous owner, changes nothing (the Kafka Connect JDBC sink's exactly-once pattern).
 */
export class OffsetLedger {
  constructor(private readonly db: Db, private readonly table: string) {}

  /** The offset `consumer` resumes `topic`'s partition from, if it committed any. */
  async resumeAt(consumer: string, topic: string, partition: number): Promise<bigint | undefined> {
    const [row] = await this.db.query<{ next_offset: string }>(`SELECT next_offset FROM ${this.table} WHERE consumer = $1 AND topic = $2 AND partition = $3`, [consumer, topic, partition]);
    return row ? BigInt(row.next_offset) : undefined;
  }

  /** Per partition of `topic`, the offset `consumer` has committed up to. */
  async committed(consumer: string, topic: string): Promise<Map<number, bigint>> {
    const rows = await this.db.query<{ partition: number; next_offset: string }>(`SELECT partition, next_offset FROM ${this.table} WHERE consumer = $1 AND topic = $2`, [consumer, topic]);
    return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
  }

  /**
   * Runs `write` and records the batch's end in one transaction, unless the partition is already past the batch's
   * start (a batch seen before): then nothing is written and false returned. The offset row is locked first, so two
   * owners of a partition during a rebalance write one after the other, and the second writes nothing.
   */
  async once(end: BatchEnd, write: (tx: Queryable, from: bigint) => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${this.table} (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING`, [end.consumer, end.topic, end.partition]);
      const [row] = await tx.query<{ next_offset: string }>(`SELECT next_offset FROM ${this.table} WHERE consumer = $1 AND topic = $2 AND partition = $3 FOR UPDATE`, [end.consumer, end.topic, end.partition]);
      const done = BigInt(row!.next_offset);
      if (done >= end.next) return false;
      await write(tx, done > end.from ? done : end.from);
      await tx.query(`UPDATE ${this.table} SET next_offset = $4 WHERE consumer = $1 AND topic = $2 AND partition = $3`, [end.consumer, end.topic, end.partition, end.next.toString()]);
      return true;
    });
  }
}
