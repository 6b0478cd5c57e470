import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const logger = join(import.meta.dirname, '../../src/adapters/logger.ts');
const script = `const { createLogger } = await import(${JSON.stringify(logger)}); createLogger('info').info({ email: 'ann@example.com', record: { ani: '+15550001' }, partition: 3 }, 'task running');`;
const logLine = async (format: string) => (await exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, LOG_FORMAT: format } })).stderr;

it('logs JSON lines by default and readable lines with LOG_FORMAT=pretty, personal data redacted in both', async () => {
  const json = JSON.parse(await logLine('json')) as Record<string, unknown>;
  assert.equal(json.msg, 'task running');
  assert.equal(json.partition, 3);
  assert.equal(json.email, '[redacted]');
  const pretty = await logLine('pretty');
  assert.match(pretty, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: task running\n/);
  assert.match(pretty, /partition: 3/);
  assert.doesNotMatch(pretty, /ann@example\.com|15550001/);
});
