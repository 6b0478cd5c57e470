import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/app.ts';
import { waitFor } from '../harness/pipeline.ts';
import { scrape, sendTraffic, startRun } from '../harness/runProcess.ts';

// The live status page of `run`, as a user sees it: opened in headless Chromium (Debian's, installed by .ci/run)
// while traffic flows; what it shows must agree with GET /metrics; a screenshot is kept in test-artifacts/.
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

it('the status page shows decisions, lag, purge SLA and dead letters as /metrics has them, refreshing itself, without PII', async () => {
  const run = await startRun({ workers: 2 });
  cleanups.push(() => run.stop());
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`http://127.0.0.1:${run.opsPort}/`);
  await page.waitForSelector('#decisions tbody');
  const firstUpdate = await page.getAttribute('#state', 'data-at');

  const traffic = await sendTraffic(run.prefix, { customers: 8, perCustomer: 6 }); // while the page is open
  /** What the page shows: the decisions table as series → count, the lag table, the dead letters and purge tables. */
  // A string, not a function: the test runs through tsx, whose helpers would not exist in the page.
  const shown = () => page.evaluate(`(() => {
    const rows = (id) => [...document.querySelectorAll('#' + id + ' tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''));
    return { decisions: rows('decisions'), lag: rows('lag'), dlq: rows('dlq'), purge: rows('purge'), at: document.getElementById('state').dataset.at };
  })()`) as Promise<{ decisions: string[][]; lag: string[][]; dlq: string[][]; purge: string[][]; at?: string }>;
  let metrics = new Map<string, number>();
  let view = await shown();
  // Traffic has stopped: the page (refreshing every 2 s) and /metrics settle on the same figures.
  await waitFor('the page agrees with /metrics', async () => {
    view = await shown();
    metrics = await scrape(run.opsPort);
    const decisions = view.decisions.filter((r) => r.length === 4);
    const same = decisions.length > 0 && decisions.every(([sink, outcome, reason, count]) =>
      metrics.get(`consentgate_decisions_total{outcome="${outcome}",reason="${reason}",sink="${sink}"}`) === Number(count));
    const total = decisions.reduce((n, r) => n + Number(r[3]), 0);
    // The lag matrix: a row per topic, a cell per partition, each as /metrics has it (all 0 once drained).
    const lagSeries = [...metrics].filter(([k]) => k.startsWith('kafka_consumergroup_group_lag{'));
    const cells = view.lag.flatMap((r) => r.slice(1, -1).filter((c) => c !== ''));
    const outstanding = view.purge.some((r) => r[0] !== 'escalated (total)' && Number(r[1]) > 0);
    const charted = (await page.locator('#chart rect').count()) > 0; // the decisions of the last minutes, sampled every 5 s
    return same && outstanding && charted && total === traffic.records * 3 && cells.length === lagSeries.length && cells.every((c) => c === '0') && lagSeries.every(([, v]) => v === 0);
  }, 30_000).catch((e: Error) => { throw new Error(`${e.message}: page ${JSON.stringify(view)}`); });

  assert.notEqual(view.at, firstUpdate, 'the page refreshed itself');
  const conversations = `${run.prefix}genesys.conversations`;
  assert.deepEqual(view.dlq, [[conversations, 'DESERIALIZATION_FAILED', '1']]);
  assert.equal(metrics.get(`consentgate_dead_letters_total{code="DESERIALIZATION_FAILED",topic="${conversations}"}`), 1);
  const crmVendor = view.purge.find((r) => r[0] !== 'escalated (total)' && Number(r[1]) > 0);
  assert.ok(crmVendor, 'the withdrawal left a purge command outstanding');
  assert.equal(metrics.get(`consentgate_purge_outstanding{vendor="${crmVendor[0]}"}`), Number(crmVendor[1]));
  const text = await page.locator('body').innerText();
  for (const c of traffic.customers) assert.ok(!text.includes(c), 'no customer id on the page');

  const dir = join(PROJECT_ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'status-page.png'), fullPage: true });
});
