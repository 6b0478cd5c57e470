/** The offsets table of a ledger (pure DDL, part of a store's schema). */
export function offsetsDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  consumer text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  PRIMARY KEY (consumer, topic, partition)
);`;
}
