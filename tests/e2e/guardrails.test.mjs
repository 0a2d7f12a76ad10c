// Browser journeys for the guardrails in the portal, in Debian's Chromium driven by playwright-core:
// a developer asks for more CPU than dev allows and sees the policy's message and fix next to the
// cpu field, with and without JavaScript; a platform admin reads the platform page (the active
// revision, its history, the policies), reloads the configuration and runs the policy test bench;
// a developer gets no link to the bench and a 403 at its address. Screenshots go to $SCREENSHOTS.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { test, after, before } from 'node:test';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const shots = process.env.SCREENSHOTS ?? 'target/e2e';
const environments = `${base}/catalog/default/component/payments-api/environments`;
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

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? 'with JavaScript' : 'without JavaScript';
  test(`a developer sees a violation next to the field with its fix, ${mode}`, async () => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await signIn(page, 'user:default/ada');
    await page.goto(environments);
    const dev = page.locator('[data-testid=request-dev]');
    await dev.waitFor();
    await dev.locator('input[name=cpu]').fill('9');
    await Promise.all([page.waitForURL(/\/environments\/dev\/plan\?.*cpu=9/), dev.locator('button[type=submit]').click()]);

    // The policy's message and its fix, inside the error the cpu input is described by.
    const error = page.locator('#dev-cpu-error');
    await error.waitFor();
    assert.equal(await error.locator('[data-testid=policy-denial]').getAttribute('data-policy'), 'ceiling-cpu');
    assert.equal(await error.locator('[data-testid=policy-denial]').textContent(),
      '9000m of CPU is above the ceiling of 8000m for dev');
    assert.match(await error.locator('[data-testid=policy-fix]').textContent(),
      /Fix: Ask for less CPU, or ask the platform team for a waiver\./);
    assert.equal(await page.getAttribute('#dev-cpu', 'aria-invalid'), 'true');
    assert.match(await page.getAttribute('#dev-cpu', 'aria-describedby'), /\bdev-cpu-error\b/);
    assert.equal(await page.inputValue('#dev-cpu'), '9', 'the value typed is kept');
    assert.equal(await page.getAttribute('#dev-memory', 'aria-invalid'), null, 'other fields stay valid');
    assert.equal(await page.locator('[data-testid=apply-form]').count(), 0, 'nothing to apply');
    await page.screenshot({ path: `${shots}/policy-denial${javaScriptEnabled ? '' : '-nojs'}.png`, fullPage: true });

    // Corrected in the same form, the plan is offered.
    await page.fill('#dev-cpu', '2');
    await Promise.all([page.waitForURL(/cpu=2/), page.click('[data-testid=plan-form] button[type=submit]')]);
    await page.waitForSelector('[data-testid=apply-form]');
    assert.equal(await page.locator('#dev-cpu-error').count(), 0);
    assert.deepEqual(errors, [], 'no script errors');
    await context.close();
  });
}

test('a platform admin reads the platform page, reloads and runs the policy test bench', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, 'user:default/linus');
  await page.goto(`${base}/platform`);
  const revision = page.locator('[data-testid=active-revision]');
  await revision.waitFor();
  assert.match(await revision.textContent(), /^[0-9a-f]{12}$/);
  assert.equal(await page.textContent('[data-testid=active-source]'), 'embedded default');
  assert.ok(await page.locator('[data-testid=revision-history] tbody tr').count() >= 1, 'the history lists the revision');
  const cpu = page.locator('[data-testid=policies] tr[data-policy=ceiling-cpu]');
  assert.match(await cpu.textContent(), /set\.cpu.*environment.*Ask for less CPU/s);
  assert.equal(await page.locator('[data-testid=refused-read]').count(), 0, 'the configuration is valid');
  await page.screenshot({ path: `${shots}/platform-guardrails.png`, fullPage: true });

  // Reload now: a plain form post, back to the page with what happened.
  await Promise.all([page.waitForURL(/\/platform\?reloaded=unchanged/), page.click('[data-testid=reload-form] button[type=submit]')]);
  assert.match(await page.textContent('[data-testid=reload-outcome]'), /unchanged/);

  // The test bench, reached through its link: ada's request for 9 cores in dev.
  await Promise.all([page.waitForURL(`${base}/platform/policies/test`), page.click('[data-testid=bench-link]')]);
  await page.waitForSelector('[data-testid=bench-form]');
  await page.fill('#bench-service', 'component:default/payments-api');
  await page.selectOption('#bench-environment', 'dev');
  await page.fill('#bench-requester', 'user:default/ada');
  await page.fill('#bench-cpu', '9');
  await Promise.all([page.waitForURL(/\/platform\/policies\/test\?service=/), page.click('[data-testid=bench-form] button[type=submit]')]);
  await page.waitForSelector('[data-testid=bench-verdicts]');
  assert.equal(await page.getAttribute('[data-testid=bench-decision]', 'data-allowed'), 'false');
  const denied = page.locator('[data-testid=bench-verdicts] tr[data-policy=ceiling-cpu]');
  assert.equal(await denied.getAttribute('data-outcome'), 'denied');
  assert.match(await denied.textContent(), /9000m of CPU is above the ceiling of 8000m for dev.*Ask for less CPU/s);
  assert.equal(await page.getAttribute('[data-testid=bench-verdicts] tr[data-policy=ceiling-memory]', 'data-outcome'), 'allowed');
  const input = JSON.parse(await page.textContent('[data-testid=bench-input]'));
  assert.equal(input.request.cpuMillis, 9000);
  assert.equal(input.requester.ref, 'user:default/ada');
  assert.equal(input.environment.name, 'dev');
  await page.screenshot({ path: `${shots}/policy-bench.png`, fullPage: true });
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('the policy test bench is for platform admins: a developer gets no link and a 403', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'user:default/ada');
  await page.goto(`${base}/platform`);
  await page.locator('[data-testid=active-revision]').waitFor();
  assert.equal(await page.locator('[data-testid=bench-link]').count(), 0);
  assert.equal(await page.locator('[data-testid=reload-form]').count(), 0);
  assert.equal(await page.locator('[data-testid=waiver-form]').count(), 0);
  const response = await page.goto(`${base}/platform/policies/test`);
  assert.equal(response.status(), 403);
  assert.match(await page.textContent('main'), /only platform admins use the policy test bench/);
  await context.close();
});
