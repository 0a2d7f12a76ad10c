// Browser journey for delivery feedback, in Debian's Chromium driven by playwright-core: a
// developer's team sends deployments, commits and an incident through POST /api/events for a
// component of its own, and the component's Delivery tab draws DORA's keys per ISO week with the
// numbers worked out by hand below, lists the deployments with their commits and PipelineRuns and
// the open incident; the same page without JavaScript, its range chosen with a link and with the
// form; the team's view on its group page, the organisation's page, and the empty state of a
// component with no events. Screenshots go to $SCREENSHOTS.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { test, after, before } from 'node:test';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const shots = process.env.SCREENSHOTS ?? 'target/e2e';
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

async function signIn(page, user) {
  await page.goto(`${base}/`);
  await page.selectOption('select#user', user);
  await Promise.all([page.waitForURL(`${base}/`), page.click('form[data-testid=dev-sign-in] button[type=submit]')]);
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Monday 00:00 UTC of the ISO week `weeksAgo` weeks before this one. */
function monday(weeksAgo) {
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const offset = (new Date(today).getUTCDay() + 6) % 7;
  return today - offset * DAY - weeksAgo * 7 * DAY;
}

/** `W49`: the ISO week of a Monday. */
function isoWeek(mondayMillis) {
  const thursday = new Date(mondayMillis + 3 * DAY);
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const week = Math.floor((thursday.getTime() - yearStart) / (7 * DAY)) + 1;
  return `W${String(week).padStart(2, '0')}`;
}

const at = (millis) => new Date(millis).toISOString();

// Two weeks by hand. Week A (two weeks ago): d1 succeeds with c1 (lead 4 h); d2 fails; d3 succeeds
// two hours later with c2 and c3 (c2's lead counts at d3: 4 h; c3: 3 h). So 3 production
// deployments, 1 failed (33%), lead median 4 h (of 3, 4, 4), recovery 2 h, and d3 is rework (33%).
// Week B (last week): d4 goes to staging only; d5 succeeds with c4 (lead 2 h) and then causes an
// open incident: 1 deployment, 1 failed (100%), lead 2 h, not recovered, no rework (0%).
function history(service) {
  const a = monday(2);
  const b = monday(1);
  const deployment = (id, environment, status, finished, commits, run) => ({
    kind: 'deployment', id, service, environment, version: `1.0.${id.slice(1)}`, status,
    startedAt: at(finished - 10 * 60_000), finishedAt: at(finished), commits,
    ...(run ? { pipelineRun: run } : {}),
  });
  return {
    weeks: { a: isoWeek(a), b: isoWeek(b) },
    events: [
      deployment('d1', 'prod', 'succeeded', a + DAY + 10 * HOUR,
        [{ sha: 'c1c1c1c', authoredAt: at(a + DAY + 6 * HOUR) }], 'payments-prod/delivery-d1'),
      deployment('d2', 'prod', 'failed', a + 2 * DAY + 10 * HOUR,
        [{ sha: 'c2c2c2c', authoredAt: at(a + 2 * DAY + 8 * HOUR) }]),
      deployment('d3', 'prod', 'succeeded', a + 2 * DAY + 12 * HOUR,
        ['c2c2c2c', { sha: 'c3c3c3c', authoredAt: at(a + 2 * DAY + 9 * HOUR) }], 'payments-prod/delivery-d3'),
      deployment('d4', 'staging', 'succeeded', b + DAY + 10 * HOUR, []),
      deployment('d5', 'prod', 'succeeded', b + 3 * DAY + 10 * HOUR,
        [{ sha: 'c4c4c4c', authoredAt: at(b + 3 * DAY + 8 * HOUR) }]),
      { kind: 'incident', id: 'i1', service, incident: 'INC-1', openedAt: at(b + 3 * DAY + 11 * HOUR),
        severity: 'critical', causedBy: 'd5' },
    ],
  };
}

async function importComponent(request, name) {
  const imported = await request.post(`${base}/api/catalog/import`, {
    headers: { 'content-type': 'application/yaml', origin: base },
    data: [
      'apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', `  name: ${name}`,
      'spec:', '  type: service', '  lifecycle: production', '  owner: payments',
    ].join('\n'),
  });
  assert.equal(imported.status(), 201, await imported.text());
}

/** The chart's values by period label, as the SVG carries them. */
async function chartValues(page, id) {
  const points = page.locator(`[data-testid=chart-${id}] g.chart__point`);
  const values = {};
  for (let i = 0; i < await points.count(); i += 1) {
    const point = points.nth(i);
    values[await point.getAttribute('data-label')] = await point.getAttribute('data-value');
  }
  return values;
}

/** The week's row of a chart's table: [week, value, counted from]. */
async function tableRow(page, id, week) {
  const row = page.locator(`[data-testid=table-${id}] tbody tr`, { hasText: week });
  return (await row.locator('th, td').allTextContents()).map((t) => t.trim());
}

async function checkDeliveryTab(page, weeks) {
  await page.waitForSelector('[data-testid=chart-deployment-frequency] svg');
  const frequency = await chartValues(page, 'deployment-frequency');
  assert.equal(frequency[weeks.a], '3');
  assert.equal(frequency[weeks.b], '1');
  assert.ok(Object.keys(frequency).length >= 13, 'a bar per ISO week of the 90 days');
  assert.ok(Object.entries(frequency).every(([w, v]) => [weeks.a, weeks.b].includes(w) || v === '0'));
  const lead = await chartValues(page, 'change-lead-time');
  assert.equal(lead[weeks.a], '4');
  assert.equal(lead[weeks.b], '2');
  assert.match(await page.textContent('[data-testid=chart-change-lead-time] svg'), /hours/);
  assert.deepEqual((await tableRow(page, 'change-fail-rate', weeks.a)).slice(1), ['33%', '1 of 3 production deployments failed']);
  assert.deepEqual((await tableRow(page, 'change-fail-rate', weeks.b)).slice(1), ['100%', '1 of 1 production deployment failed']);
  assert.deepEqual((await tableRow(page, 'recovery-time', weeks.a)).slice(1, 2), ['2 h']);
  assert.deepEqual((await tableRow(page, 'recovery-time', weeks.b)).slice(1), ['no data', 'no failure recovered']);
  assert.deepEqual((await tableRow(page, 'rework-rate', weeks.a)).slice(1, 2), ['33%']);
  assert.deepEqual((await tableRow(page, 'rework-rate', weeks.b)).slice(1, 2), ['0%']);
  // Each bar's title is a sentence a screen reader or a tooltip gives.
  const titles = await page.locator('[data-testid=chart-deployment-frequency] g.chart__point > title').allTextContents();
  assert.ok(titles.some((t) => t.endsWith(`${weeks.a}: 3; 3 production deployments`)), titles.join(' | '));

  const summary = await page.textContent('[data-testid=delivery-summary]');
  assert.match(summary, /4 production deployments in 90 days/);
  assert.match(summary, /2 of 4 production deployments failed/);
  assert.match(summary, /1 not recovered yet/);
  assert.match(await page.textContent('[data-testid=dora-context]'), /not as a target/);

  const rows = page.locator('[data-testid=deployment-row]');
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.deployment)), ['d5', 'd4', 'd3', 'd2', 'd1']);
  const d3 = page.locator('[data-testid=deployment-row][data-deployment=d3]');
  assert.match(await d3.textContent(), /prod/);
  assert.equal((await d3.locator('[data-testid=pipeline-run]').textContent()).trim(), 'payments-prod/delivery-d3');
  assert.deepEqual((await d3.locator('[data-testid=commits] code').allTextContents()).sort(), ['c2c2c2c', 'c3c3c3c']);
  assert.match(await page.textContent('[data-testid=deployment-row][data-deployment=d4]'), /staging/);
  const incident = page.locator('[data-testid=incident-row][data-incident=INC-1]');
  assert.match(await incident.textContent(), /critical/);
  assert.match(await incident.textContent(), /d5 \(1\.0\.5 in prod\)/);
}

test('a component\'s Delivery tab draws the hand-worked weeks, with and without JavaScript', async () => {
  const name = `shipping-${Date.now().toString(36)}`;
  const quiet = `${name}-quiet`;
  const { weeks, events } = history(`component:default/${name}`);

  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  await signIn(page, 'user:default/ada');
  await importComponent(page.request, name);
  await importComponent(page.request, quiet);
  const posted = await page.request.post(`${base}/api/events`, { headers: { origin: base }, data: events });
  assert.equal(posted.status(), 200, await posted.text());
  assert.deepEqual(await posted.json(), { accepted: 6, duplicates: 0 });

  // From the component's page, through its tabs.
  await page.goto(`${base}/catalog/default/component/${name}`);
  await page.waitForSelector('[data-testid=delivery-tab]');
  await Promise.all([page.waitForURL(`${base}/catalog/default/component/${name}/delivery`), page.click('[data-testid=delivery-tab]')]);
  await checkDeliveryTab(page, weeks);
  assert.equal(await page.getAttribute('[data-testid=delivery-tab]', 'aria-current'), 'page');
  await page.screenshot({ path: `${shots}/delivery.png`, fullPage: true });

  // A component with no events says what to send.
  await page.goto(`${base}/catalog/default/component/${quiet}/delivery`);
  const empty = page.locator('[data-testid=delivery-empty]');
  await empty.waitFor();
  assert.match(await empty.textContent(), new RegExp(`No delivery events have been recorded for ${quiet} yet`));
  assert.match(await empty.textContent(), /POST \/api\/events/);
  assert.match(await empty.textContent(), new RegExp(`"service": "component:default/${quiet}"`));
  assert.equal(await page.locator('[data-testid=chart-deployment-frequency]').count(), 0);
  await page.screenshot({ path: `${shots}/delivery-empty.png`, fullPage: true });
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();

  // Without JavaScript the server's HTML is the whole page: the same charts, and the range.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const nojs = await plain.newPage();
  await signIn(nojs, 'user:default/grace');
  await nojs.goto(`${base}/catalog/default/component/${name}/delivery`);
  await checkDeliveryTab(nojs, weeks);
  await nojs.screenshot({ path: `${shots}/delivery-nojs.png`, fullPage: true });
  await Promise.all([nojs.waitForURL(/\/delivery\?days=30$/), nojs.click('[data-testid=delivery-range] a[data-days="30"]')]);
  assert.match(await nojs.textContent('[data-testid=range-shown]'), /\(30 days, UTC\)/);
  assert.equal(await nojs.getAttribute('[data-testid=delivery-range] a[data-days="30"]', 'aria-current'), 'page');
  const custom = nojs.locator('[data-testid=range-form]');
  await custom.locator('input[name=from]').fill(at(monday(2)).slice(0, 10));
  await custom.locator('input[name=to]').fill(at(monday(2) + 6 * DAY).slice(0, 10));
  await Promise.all([nojs.waitForURL(/\/delivery\?from=/), custom.locator('button[type=submit]').click()]);
  assert.match(await nojs.textContent('[data-testid=range-shown]'), /\(7 days, UTC\)/);
  assert.deepEqual(await chartValues(nojs, 'deployment-frequency'), { [weeks.a]: '3' });
  // A range the domain refuses is named, and the default range shown.
  await nojs.goto(`${base}/catalog/default/component/${name}/delivery?from=2026-13-01`);
  assert.match(await nojs.textContent('[data-testid=range-problem]'), /from: .*2026-13-01/);
  assert.match(await nojs.textContent('[data-testid=range-shown]'), /\(90 days, UTC\)/);

  // The team's view pools its components, naming the service of each deployment.
  await nojs.goto(`${base}/catalog/default/group/payments`);
  await Promise.all([nojs.waitForURL(`${base}/catalog/default/group/payments/delivery`), nojs.click('[data-testid=delivery-tab]')]);
  await nojs.waitForSelector('[data-testid=chart-deployment-frequency]');
  assert.match(await nojs.textContent('[data-testid=deployment-row][data-deployment=d5]'), new RegExp(name));
  assert.match(await nojs.textContent('[data-testid=range-shown]'), /counting \d+ components/);

  // The organisation's, on its own page and on the platform page.
  await nojs.goto(`${base}/delivery`);
  await nojs.waitForSelector('[data-testid=chart-deployment-frequency]');
  assert.match(await nojs.textContent('[data-testid=incidents]'), /INC-1/);
  await nojs.goto(`${base}/platform`);
  const section = nojs.locator('[data-testid=organisation-delivery]');
  await section.waitFor();
  assert.equal(await section.locator('[data-testid=chart-rework-rate]').count(), 1);
  await plain.close();
});
