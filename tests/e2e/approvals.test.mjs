// Browser journey for approvals bound to the plan, in Debian's Chromium driven by playwright-core:
// a developer requests prod for a production component of their team (with JavaScript), the
// request stops at a pending approval that shows its plan and refuses the requester's own
// decision; a platform admin approves it with a comment without JavaScript (a plain form post),
// follows the apply task to its end, and the environment is ready with the decision on its card.
// The environment goes to the control plane e2e.sh passes. Screenshots go to $SCREENSHOTS.
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

test('a platform admin approves a prod plan; the requester cannot', async () => {
  // A component of its own per run: prod is protected, so its namespace stays behind.
  const name = `vault-${Date.now().toString(36)}`;
  const environments = `${base}/catalog/default/component/${name}/environments`;

  const developer = await browser.newContext();
  const ada = await developer.newPage();
  const errors = [];
  ada.on('pageerror', (e) => errors.push(e.message));
  await signIn(ada, 'user:default/ada');
  // The starter policies let a production component with an on-call rota and a cost centre into prod.
  // Imported through the API with her session (the import page has journeys of its own), so that
  // this journey starts at the environment.
  const imported = await ada.request.post(`${base}/api/catalog/import`, {
    headers: { 'content-type': 'application/yaml', origin: base },
    data: [
      'apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', `  name: ${name}`,
      '  annotations:', '    causeway.dev/on-call: payments-rota', '    causeway.dev/cost-centre: cc-4711',
      'spec:', '  type: service', '  lifecycle: production', '  owner: payments',
    ].join('\n'),
  });
  assert.equal(imported.status(), 201, await imported.text());

  await ada.goto(environments);
  const prod = ada.locator('[data-testid=environment-prod]');
  await prod.waitFor();
  await prod.locator('input[name=pods]').fill('12');
  await Promise.all([ada.waitForURL(/\/environments\/prod\/plan\?/), prod.locator('button[type=submit]').click()]);
  await ada.waitForSelector('[data-testid=plan-steps]');
  assert.match(await ada.textContent('[data-testid=needs-approval]'), /needs an approval from group:default\/platform/);
  assert.equal((await ada.textContent('[data-testid=apply-form] button[type=submit]')).trim(), 'Request approval');
  await Promise.all([ada.waitForURL(/\/environments#environment-prod$/), ada.click('[data-testid=apply-form] button[type=submit]')]);

  // The request waits, bound to its plan; its requester is told why they cannot decide it.
  const approval = prod.locator('[data-testid=approval]');
  await approval.waitFor();
  assert.equal(await approval.getAttribute('data-status'), 'pending');
  assert.equal(await prod.locator('[data-testid=environment-status]').textContent(), 'not provisioned');
  assert.match(await approval.locator('[data-testid=approval-plan-hash]').textContent(), /^[0-9a-f]{64}$/);
  const actions = await approval.locator('[data-testid=plan-steps] tbody tr td:first-child').allTextContents();
  assert.ok(actions.length >= 10 && actions.every((a) => a.trim() === 'create'), actions.join());
  assert.match(await approval.locator('[data-testid=approval-refused]').textContent(), /you requested this change/);
  assert.equal(await approval.locator('[data-testid=approval-form]').count(), 0);
  await ada.screenshot({ path: `${shots}/approval-pending.png`, fullPage: true });
  assert.deepEqual(errors, [], 'no script errors');
  await developer.close();

  // A platform admin decides without JavaScript: the form posts, the task page refreshes itself.
  const admin = await browser.newContext({ javaScriptEnabled: false });
  const linus = await admin.newPage();
  await signIn(linus, 'user:default/linus');
  await linus.goto(environments);
  const form = linus.locator('[data-testid=environment-prod] [data-testid=approval-form]');
  await form.locator('textarea[name=comment]').fill('Quota checked with the team.');
  await Promise.all([linus.waitForURL(/\/tasks\/[0-9a-f-]+$/), form.locator('button[value=approve]').click()]);
  const deadline = Date.now() + 90_000;
  let status = '';
  while (Date.now() < deadline) {
    status = await linus.textContent('[data-testid=task-status]');
    if (status === 'completed' || status === 'failed') break;
    await linus.waitForTimeout(500);
  }
  assert.equal(status, 'completed', 'the approved apply ran to its end');
  assert.match(await linus.textContent('[data-testid=task-log]'), /the approved plan [0-9a-f]{64} is unchanged/);

  await linus.goto(environments);
  const card = linus.locator('[data-testid=environment-prod]');
  assert.equal(await card.locator('[data-testid=environment-status]').textContent(), 'ready');
  assert.equal(await card.locator('[data-testid=approval]').getAttribute('data-status'), 'approved');
  assert.equal(await card.locator('[data-testid=approval-comment]').textContent(), 'Quota checked with the team.');
  assert.equal(await card.locator('[data-testid=approval-task]').count(), 1);
  await linus.screenshot({ path: `${shots}/approval-approved.png`, fullPage: true });
  await admin.close();
});
