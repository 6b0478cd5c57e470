import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

// The domain is pure: no I/O modules, no Kafka or logging libraries, no clock reads.
it('src/domain imports no I/O and reads no clock', () => {
  const dir = join(import.meta.dirname, '../../src/domain');
  const offenders: string[] = [];
  for (const f of readdirSync(dir)) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const m of src.matchAll(/from ['"]([^'"]+)['"]/g)) {
      if (!m[1]!.startsWith('./') && m[1] !== 'zod') offenders.push(`${f} imports ${m[1]}`);
    }
    // new Date(ms) converts a time it is given; new Date() reads the clock.
    if (/Date\.now\(|new Date\(\s*\)|performance\.now\(/.test(src)) offenders.push(`${f} reads the clock`);
  }
  assert.deepEqual(offenders, []);
});
