// Browser suite for the portal, in Debian's Chromium driven by playwright-core.
//
// It proves three things: the pages work and link together for a signed-in user; hydration
// happened (the owned-entities filter reacts to typing, which only the WebAssembly build can do);
// and the same journeys work with JavaScript disabled (forms post, the server renders results):
// the catalog, environments, and creating from the golden paths.
// Screenshots go to $SCREENSHOTS.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { test, after, before } from 'node:test';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const shots = process.env.SCREENSHOTS ?? 'target/e2e';
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

async function signIn(page, user) {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/sign-in\?next=%2F$/, 'anonymous visitors are sent to the sign-in page');
  await page.selectOption('select#user', user);
  await Promise.all([page.waitForURL(`${base}/`), page.click('form[data-testid=dev-sign-in] button[type=submit]')]);
}

test('with JavaScript: sign in, hydrate, filter instantly, move between pages', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

  await signIn(page, 'user:default/ada');
  await page.waitForLoadState('networkidle');
  assert.equal(await page.textContent('[data-testid=signed-in-user]'), 'Ada Okafor');
  assert.match(await page.textContent('[data-testid=teams]'), /Payments/);
  const total = await page.locator('[data-testid=owned-row]').count();
  assert.ok(total >= 3, `ada's team owns several entities (saw ${total})`);
  await page.screenshot({ path: `${shots}/home.png`, fullPage: true });

  // Hydration: typing filters the rows in place. The first keystrokes can race the WebAssembly
  // start-up, so retype until the list reacts (or give up after 10 s).
  let navigated = false;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigated = true; });
  const deadline = Date.now() + 10_000;
  let count = total;
  while (Date.now() < deadline) {
    await page.fill('#owned-filter', '');
    await page.type('#owned-filter', 'ledger');
    count = await page.locator('[data-testid=owned-row]').count();
    if (count === 1) break;
    await page.waitForTimeout(250);
  }
  assert.equal(count, 1, 'the filter narrowed the list without a round trip: the page is hydrated');
  assert.equal(navigated, false, 'no navigation happened while filtering');
  assert.equal(await page.textContent('[data-testid=owned-count]'), `Showing 1 of ${total}`);
  await page.screenshot({ path: `${shots}/home-filtered.png`, fullPage: true });

  // Client-side navigation through the main menu.
  await page.click('nav.app-nav >> text=Tasks');
  await page.waitForURL(`${base}/tasks`);
  await page.waitForSelector('[data-testid=tasks-filter]');
  assert.equal(await page.textContent('main h1'), 'Tasks');
  await page.click('nav.app-nav >> text=Create');
  await page.waitForURL(`${base}/create`);
  await page.waitForSelector('[data-testid=templates]');
  assert.equal(await page.textContent('main h1'), 'Create');
  assert.equal(await page.getAttribute('nav.app-nav a[href="/create"]', 'aria-current'), 'page');
  await page.click('nav.app-nav >> text=Delivery');
  await page.waitForURL(`${base}/delivery`);
  await page.waitForSelector('[data-testid=delivery-range]');
  assert.equal(await page.textContent('main h1'), 'Delivery');
  assert.equal(await page.getAttribute('nav.app-nav a[href="/delivery"]', 'aria-current'), 'page');
  await page.click('a.brand');
  await page.waitForURL(`${base}/`);
  await page.waitForSelector('[data-testid=owned-table]');

  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('without JavaScript: sign in, filter through the server, sign out', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'user:default/grace');
  assert.equal(await page.textContent('[data-testid=signed-in-user]'), 'Grace Lindqvist');
  const total = await page.locator('[data-testid=owned-row]').count();
  assert.ok(total >= 2, `grace's team owns several entities (saw ${total})`);

  // Typing does nothing without the WebAssembly build...
  await page.fill('#owned-filter', 'basket');
  assert.equal(await page.locator('[data-testid=owned-row]').count(), total);
  // ...but submitting the form asks the server, which renders the filtered list.
  await Promise.all([page.waitForURL(`${base}/?q=basket`), page.click('form.filter-form button[type=submit]')]);
  assert.equal(await page.locator('[data-testid=owned-row]').count(), 1);
  assert.equal(await page.textContent('[data-testid=owned-count]'), `Showing 1 of ${total}`);
  assert.equal(await page.inputValue('#owned-filter'), 'basket');
  await page.screenshot({ path: `${shots}/nojs-home-filtered.png`, fullPage: true });

  // The platform overview shows every environment to platform admins only; grace, a developer,
  // sees her teams' environments.
  await page.click('nav.app-nav >> text=Platform');
  await page.waitForURL(`${base}/platform`);
  assert.match(await page.textContent('[data-testid=overview-scope]'), /Your teams' environments/);

  await Promise.all([page.waitForURL(/\/sign-in\?error=signed-out/), page.click('form.inline-form button')]);
  assert.match(await page.textContent('[data-testid=sign-in-message]'), /signed out/);
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/sign-in/, 'the session is gone');
  await context.close();
});

test('an unknown user is refused with a clear message', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${base}/sign-in`);
  // The form only offers known users, so post a forged value the way a script would.
  const response = await context.request.post(`${base}/auth/dev/sign-in`, {
    form: { user: 'user:default/mallory', next: '/' },
    headers: { Origin: base },
    maxRedirects: 0,
  });
  assert.equal(response.status(), 303);
  const location = response.headers()['location'];
  assert.match(location, /error=unknown-user/);
  await page.goto(`${base}${location}`);
  assert.match(await page.textContent('[data-testid=sign-in-message]'), /No user "user:default\/mallory" is known/);
  await page.screenshot({ path: `${shots}/sign-in-unknown-user.png` });
  await context.close();
});

// Waits until the catalog shows `text` as its result count (hydrated pages swap results in place).
async function resultCount(page, text) {
  await page.waitForFunction(
    (t) => document.querySelector('[data-testid=result-count]')?.textContent === t, text);
}

test('catalog with JavaScript: search, facet filter, entity page, owner in one click', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

  await signIn(page, 'user:default/ada');
  await page.waitForLoadState('networkidle');
  await page.click('nav.app-nav >> text=Catalog');
  await page.waitForURL(`${base}/catalog`);
  await page.waitForSelector('[data-testid=catalog-table]');
  assert.match(await page.textContent('[data-testid=result-count]'), /^\d+ results$/);
  assert.ok(await page.locator('[data-testid=catalog-row]').count() >= 10, 'the demo organisation is listed');
  // Set in the page: it survives only if the next steps are client-side navigations.
  await page.evaluate(() => { window.stayedOnPage = true; });

  await page.fill('#catalog-q', 'payments');
  await Promise.all([
    page.waitForURL(`${base}/catalog?q=payments`),
    page.click('[data-testid=catalog-search] button[type=submit]'),
  ]);
  // Facet counts reflect the search term: the kind facet counts only matching entities, and
  // choosing a kind leaves exactly as many results as its count said.
  const component = page.locator('[data-testid=facet-kind] a[data-value=Component]');
  await page.waitForSelector('[data-testid=catalog-row][data-ref="component:default/ledger"]');
  await page.waitForFunction(() => !document.querySelector('[data-testid=catalog-row][data-ref="component:default/basket"]'));
  const components = Number(await component.locator('.facet__count').textContent());
  assert.ok(components >= 3, `payments-api, ledger and fraud-scoring match (saw ${components})`);

  await Promise.all([page.waitForURL(`${base}/catalog?q=payments&kind=Component`), component.click()]);
  await resultCount(page, `${components} results`);
  assert.equal(await component.getAttribute('data-selected'), 'true');
  const refs = await page.locator('[data-testid=catalog-row]').evaluateAll((rows) => rows.map((r) => r.dataset.ref));
  assert.ok(refs.every((r) => r.startsWith('component:')), refs.join());
  for (const name of ['payments-api', 'ledger', 'fraud-scoring']) {
    assert.ok(refs.includes(`component:default/${name}`), `${name} is listed`);
  }
  await page.screenshot({ path: `${shots}/catalog-filtered.png`, fullPage: true });

  await Promise.all([
    page.waitForURL(`${base}/catalog/default/component/payments-api`),
    page.click('[data-testid=catalog-row][data-ref="component:default/payments-api"] td:first-child a'),
  ]);
  await page.waitForSelector('[data-testid=entity-head]');
  assert.equal(await page.textContent('main h1'), 'Payments API');
  assert.match(await page.textContent('[data-testid=owner-box]'), /Payments[\s\S]*payments@example\.com/);
  assert.equal(await page.getAttribute('[data-testid=owner-email]', 'href'), 'mailto:payments@example.com');
  assert.ok(await page.locator('[data-testid=relation-graph] svg a').count() >= 3, 'graph nodes are links');
  await page.screenshot({ path: `${shots}/entity.png`, fullPage: true });

  await Promise.all([page.waitForURL(`${base}/catalog/default/group/payments`), page.click('[data-testid=owner-link]')]);
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Payments');
  assert.match(await page.textContent('[data-testid=members]'), /Ada Okafor/);
  assert.match(await page.textContent('[data-testid=owned]'), /Payments API/);
  assert.equal(await page.evaluate(() => window.stayedOnPage), true, 'every step was a client-side navigation');
  await page.screenshot({ path: `${shots}/group.png`, fullPage: true });

  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('catalog without JavaScript: GET forms and links, owner, 404, import preview and import', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'user:default/grace');

  await page.goto(`${base}/catalog`);
  await page.fill('#catalog-q', 'checkout');
  await Promise.all([page.waitForURL(`${base}/catalog?q=checkout`), page.click('[data-testid=catalog-search] button[type=submit]')]);
  const count = async () => Number((await page.textContent('[data-testid=result-count]')).split(' ')[0]);
  const found = await count();
  const components = Number(await page.textContent('[data-testid=facet-kind] a[data-value=Component] .facet__count'));
  assert.ok(found > components && components >= 2, `checkout matches components and more (${found}, ${components})`);
  await Promise.all([
    page.waitForURL(`${base}/catalog?q=checkout&kind=Component`),
    page.click('[data-testid=facet-kind] a[data-value=Component]'),
  ]);
  assert.equal(await count(), components);
  // The search box keeps the term and the form carries the facet, so searching again keeps both.
  assert.equal(await page.inputValue('#catalog-q'), 'checkout');
  await Promise.all([
    page.waitForURL(`${base}/catalog?q=checkout&kind=Component&dir=desc`),
    page.click('th a[data-sort=name]'),
  ]);
  const refs = await page.locator('[data-testid=catalog-row]').evaluateAll((rows) => rows.map((r) => r.dataset.ref));
  assert.ok(refs.includes('component:default/basket') && refs.includes('component:default/checkout-web'), refs.join());
  assert.deepEqual(refs, [...refs].sort().reverse(), 'sorted by name, descending');
  await page.screenshot({ path: `${shots}/nojs-catalog.png`, fullPage: true });

  await Promise.all([
    page.waitForURL(`${base}/catalog/default/component/basket`),
    page.click('[data-testid=catalog-row][data-ref="component:default/basket"] td:first-child a'),
  ]);
  await Promise.all([page.waitForURL(`${base}/catalog/default/group/checkout`), page.click('[data-testid=owner-link]')]);
  assert.match(await page.textContent('[data-testid=members]'), /Grace Lindqvist/);

  const missing = await page.goto(`${base}/catalog/default/component/does-not-exist`);
  assert.equal(missing.status(), 404);
  assert.match(await page.textContent('[data-testid=not-found]'), /No such entity/);

  // Preview: every problem is listed with its document and field, and nothing is stored.
  await page.goto(`${base}/catalog/import`);
  await page.fill('#import-yaml', [
    'apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', '  name: "bad name"',
    'spec:', '  type: service', '  lifecycle: production', '  owner: checkout',
  ].join('\n'));
  await Promise.all([page.waitForURL(/\/catalog\/import\?outcome=/), page.click('[data-testid=import-preview]')]);
  assert.equal(await page.getAttribute('[data-testid=import-outcome]', 'data-ok'), 'false');
  assert.match(await page.textContent('[data-testid=import-problems]'), /1\s*metadata\.name/);

  const descriptor = [
    'apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', '  name: e2e-imported',
    '  description: Registered by the browser suite.', 'spec:', '  type: library', '  lifecycle: experimental',
    '  owner: checkout',
  ].join('\n');
  await page.goto(`${base}/catalog/import`);
  await page.fill('#import-yaml', descriptor);
  await Promise.all([page.waitForURL(/\/catalog\/import\?outcome=/), page.click('[data-testid=import-submit]')]);
  assert.equal(await page.getAttribute('[data-testid=import-outcome]', 'data-ok'), 'true');
  assert.match(await page.textContent('[data-testid=import-outcome]'), /Imported[\s\S]*component:default\/e2e-imported/);
  await page.screenshot({ path: `${shots}/nojs-import.png`, fullPage: true });
  await Promise.all([
    page.waitForURL(`${base}/catalog/default/component/e2e-imported`),
    page.click('[data-testid=import-outcome] a[href="/catalog/default/component/e2e-imported"]'),
  ]);
  assert.match(await page.textContent('[data-testid=owner-box]'), /Checkout/);
  await context.close();
});

// The environments journey needs a cluster: e2e.sh passes the control plane of `make test`.
const environments = `${base}/catalog/default/component/payments-api/environments`;

test('environments with JavaScript: request dev through the form, watch the task, see the objects', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await signIn(page, 'user:default/ada');
  await page.goto(`${base}/catalog/default/component/payments-api`);
  await Promise.all([page.waitForURL(environments), page.click('[data-testid=environments-tab]')]);
  const dev = page.locator('[data-testid=environment-dev]');
  await dev.waitFor();
  assert.equal(await dev.locator('[data-testid=environment-status]').textContent(), 'not provisioned');

  // A wrong value is refused on the server, next to its field.
  await dev.locator('input[name=pods]').fill('lots');
  await Promise.all([page.waitForURL(/\/environments\/dev\/plan\?/), dev.locator('button[type=submit]').click()]);
  const podsError = page.locator('#dev-pods-error');
  await podsError.waitFor();
  assert.match(await podsError.textContent(), /"lots" is not valid; expected number of pods/);
  assert.equal(await page.getAttribute('#dev-pods', 'aria-invalid'), 'true');
  assert.equal(await page.locator('[data-testid=apply-form]').count(), 0, 'nothing to apply');

  // Corrected: the plan lists what would be created.
  await page.fill('#dev-pods', '12');
  await Promise.all([page.waitForURL(/pods=12/), page.click('[data-testid=plan-form] button[type=submit]')]);
  await page.waitForSelector('[data-testid=plan-steps]');
  const actions = await page.locator('[data-testid=plan-steps] tbody tr td:first-child').allTextContents();
  assert.ok(actions.length >= 10 && actions.every((a) => a.trim() === 'create'), actions.join());
  await page.screenshot({ path: `${shots}/environment-plan.png`, fullPage: true });

  // Apply: the task page, updated in place until the task completes.
  await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]+$/), page.click('[data-testid=apply-form] button[type=submit]')]);
  let reloads = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) reloads += 1; });
  await page.waitForFunction(
    () => document.querySelector('[data-testid=task-status]')?.textContent === 'completed', null, { timeout: 60_000 });
  assert.equal(reloads, 0, 'the page updated without a reload');
  const steps = await page.locator('[data-testid=task-steps] li').evaluateAll((li) => li.map((l) => l.dataset.status));
  assert.deepEqual([...new Set(steps)], ['completed']);
  assert.match(await page.textContent('[data-testid=task-log]'), /created ResourceQuota\/causeway-quota/);
  await page.screenshot({ path: `${shots}/task.png`, fullPage: true });

  // The environment and every object in it.
  await Promise.all([page.waitForURL(environments), page.click('text=The service\'s environments')]);
  await dev.locator('[data-testid=environment-objects]').waitFor();
  assert.equal(await dev.locator('[data-testid=environment-status]').textContent(), 'ready');
  const rows = await dev.locator('[data-testid=environment-objects] tbody tr').allTextContents();
  assert.ok(rows.some((r) => /ResourceQuota\/causeway-quota\s*in sync/.test(r)), rows.join('|'));
  assert.ok(rows.every((r) => /in sync$/.test(r.trim())), rows.join('|'));
  assert.equal(await dev.locator('input[name=pods]').inputValue(), '12', 'the form shows what was requested');
  await page.screenshot({ path: `${shots}/environments.png`, fullPage: true });
  // Destroying takes seconds (the namespace is finalised): the task page follows it live.
  await page.click('[data-testid=environment-dev] details.danger-zone summary');
  await page.fill('[data-testid=destroy-dev] input[name=confirm]', 'payments-api-dev');
  await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]+$/), page.click('[data-testid=destroy-dev] button[type=submit]')]);
  await page.waitForSelector('#task-log');
  assert.equal(await page.getAttribute('#task-log', 'data-finished'), 'false', 'the destroy was still running when its page opened');
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations += 1; });
  await page.waitForFunction(
    () => document.querySelector('[data-testid=task-status]')?.textContent === 'completed', null, { timeout: 90_000 });
  assert.equal(navigations, 0, 'steps and log were patched in without a reload');
  assert.match(await page.textContent('[data-testid=task-log]'), /payments-api-dev is gone/);
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();

  // Another team may look, but is offered no button.
  const other = await browser.newContext();
  const grace = await other.newPage();
  await signIn(grace, 'user:default/grace');
  await grace.goto(environments);
  await grace.locator('[data-testid=environment-dev]').waitFor();
  assert.equal(await grace.locator('[data-testid=environment-dev] [data-testid=environment-status]').textContent(), 'not provisioned');
  assert.equal(await grace.locator('[data-testid=read-only]').count(), 1);
  assert.equal(await grace.locator('form[data-testid^=request-], form[data-testid^=destroy-]').count(), 0);
  await other.close();
});

test('environments without JavaScript: request staging through the forms; the task page refreshes itself', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'user:default/ada');
  await page.goto(environments);
  const staging = page.locator('[data-testid=request-staging]');
  await staging.locator('input[name=cpu]').fill('3');
  await Promise.all([page.waitForURL(/\/environments\/staging\/plan\?/), staging.locator('button[type=submit]').click()]);
  await page.waitForSelector('[data-testid=plan-steps]');
  await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]+$/), page.click('[data-testid=apply-form] button[type=submit]')]);
  const deadline = Date.now() + 60_000;
  let status = '';
  while (Date.now() < deadline) {
    status = await page.textContent('[data-testid=task-status]');
    if (status === 'completed' || status === 'failed') break;
    await page.waitForTimeout(500);
  }
  assert.equal(status, 'completed', 'the page refreshed itself until the task ended');
  await page.goto(environments);
  assert.equal(await page.textContent('[data-testid=environment-staging] [data-testid=environment-status]'), 'ready');
  assert.equal(await page.inputValue('[data-testid=request-staging] input[name=cpu]'), '3');

  // A wrong confirmation is refused, and the refusal is shown on the page it came from.
  await page.click('[data-testid=environment-staging] details.danger-zone summary');
  await page.fill('[data-testid=destroy-staging] input[name=confirm]', 'not-the-namespace');
  await Promise.all([page.waitForURL(/__err=/), page.click('[data-testid=destroy-staging] button[type=submit]')]);
  assert.match(await page.textContent('[data-testid=posted-error]'), /type the namespace payments-api-staging/);
  assert.equal(await page.textContent('[data-testid=environment-staging] [data-testid=environment-status]'), 'ready');
  await context.close();
});

// The create journey: the demo golden paths, imported by e2e.sh as `make run` imports them. The
// service template provisions the new service's dev environment into the control plane.
const cards = (page) => page.locator('[data-testid=template-card]').evaluateAll((li) => li.map((l) => l.dataset.ref));

test('create with JavaScript: find the service template, fill its wizard, review, create, follow the run', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

  await signIn(page, 'user:default/ada');
  await page.waitForLoadState('networkidle');
  await page.click('nav.app-nav >> text=Create');
  await page.waitForURL(`${base}/create`);
  await page.waitForSelector('[data-testid=templates]');
  assert.deepEqual(await cards(page), ['template:default/docs-site', 'template:default/library', 'template:default/service']);

  // Filters are GET parameters: by type through the form, by tag through a card's tag.
  await page.selectOption('#create-type', 'service');
  await Promise.all([page.waitForURL(/\/create\?q=&type=service&tag=&owner=$/), page.click('[data-testid=templates-filter] button[type=submit]')]);
  await page.waitForSelector('[data-testid=templates]');
  assert.deepEqual(await cards(page), ['template:default/service']);
  await page.fill('#create-q', 'documentation');
  await page.selectOption('#create-type', '');
  await Promise.all([page.waitForURL(/\/create\?q=documentation&/), page.click('[data-testid=templates-filter] button[type=submit]')]);
  await page.waitForSelector('[data-testid=templates]');
  assert.deepEqual(await cards(page), ['template:default/docs-site']);
  await page.goto(`${base}/create`);
  await page.waitForLoadState('networkidle');
  await Promise.all([
    page.waitForURL(`${base}/create?tag=recommended`),
    page.click('[data-ref="template:default/service"] a.tag >> text=recommended'),
  ]);
  await page.waitForFunction(() => document.querySelector('[data-testid=templates-count]')?.textContent.startsWith('Showing 1 of'));
  assert.deepEqual(await cards(page), ['template:default/service']);
  await page.screenshot({ path: `${shots}/create.png`, fullPage: true });

  // The wizard: a wrong name is refused on the server, next to its field.
  await Promise.all([
    page.waitForURL(`${base}/create/templates/default/service`),
    page.click('[data-ref="template:default/service"] [data-testid=choose-template]'),
  ]);
  await page.waitForSelector('[data-testid=wizard-form][data-page="0"]');
  assert.equal(await page.textContent('[data-testid=wizard-steps] li[aria-current=step]'), 'About the service');
  await page.fill('#field-name', 'Payouts Service');
  await page.fill('#field-description', 'Pays sellers.');
  await page.selectOption('#field-owner', 'group:default/payments');
  await Promise.all([page.waitForURL(/from=0/), page.click('[data-testid=wizard-next]')]);
  await page.waitForSelector('#field-name-error');
  assert.match(await page.textContent('#field-name-error'), /"Payouts Service" does not match/);
  assert.equal(await page.getAttribute('#field-name', 'aria-invalid'), 'true');
  assert.equal(await page.inputValue('#field-description'), 'Pays sellers.', 'the other answers are kept');
  await page.screenshot({ path: `${shots}/create-wizard-error.png`, fullPage: true });

  await page.fill('#field-name', 'e2e-payouts');
  await Promise.all([page.waitForURL(/from=0/), page.click('[data-testid=wizard-next]')]);
  await page.waitForSelector('[data-testid=wizard-form][data-page="1"]');
  assert.equal(await page.inputValue('#field-language'), 'rust', 'the default is prefilled');
  await page.selectOption('#field-language', 'go');
  await Promise.all([page.waitForURL(/from=1/), page.click('[data-testid=wizard-next]')]);

  // The review: the answers and the dry run's files, Go's and not Rust's.
  await page.waitForSelector('[data-testid=dry-run]');
  assert.match(await page.textContent('[data-testid=review-answers]'), /e2e-payouts[\s\S]*group:default\/payments[\s\S]*go/);
  assert.equal(await page.locator('[data-testid=dry-run-error]').count(), 0);
  const paths = await page.locator('[data-testid=file]').evaluateAll((d) => d.map((e) => e.dataset.path));
  assert.ok(paths.includes('go.mod') && paths.includes('main.go') && paths.includes('catalog-info.yaml'), paths.join());
  assert.ok(!paths.includes('Cargo.toml'), paths.join());
  await page.click('[data-testid=file][data-path="catalog-info.yaml"] summary');
  assert.match(await page.textContent('[data-testid=file][data-path="catalog-info.yaml"] pre'), /name: e2e-payouts[\s\S]*owner: group:default\/payments/);
  assert.match(await page.textContent('[data-testid=dry-run-log]'), /Skipping because publish:git does not support dry-run/);
  await page.screenshot({ path: `${shots}/create-review.png`, fullPage: true });

  // Create: the task page follows the run live and ends with its output.
  await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]+$/), page.click('[data-testid=create-submit]')]);
  let reloads = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) reloads += 1; });
  await page.waitForFunction(
    () => document.querySelector('[data-testid=task-status]')?.textContent === 'completed', null, { timeout: 90_000 });
  assert.equal(reloads, 0, 'the page updated without a reload');
  await page.waitForSelector('[data-testid=task-output]');
  assert.match(await page.textContent('[data-testid=task-output]'), /Repository: file:\/\/\S+\/payments\/e2e-payouts\.git[\s\S]*Namespace e2e-payouts-dev is ready/);
  await page.screenshot({ path: `${shots}/create-task.png`, fullPage: true });

  await Promise.all([
    page.waitForURL(`${base}/catalog/default/component/e2e-payouts`),
    page.click('[data-testid=task-output] a >> text=Open in the catalog'),
  ]);
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'e2e-payouts');
  assert.match(await page.textContent('[data-testid=owner-box]'), /Payments/);
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});

test('create without JavaScript: the library wizard posts page by page, the review creates', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'user:default/grace');
  await page.goto(`${base}/create`);
  await page.fill('#create-q', 'library');
  await Promise.all([page.waitForURL(/\/create\?q=library&/), page.click('[data-testid=templates-filter] button[type=submit]')]);
  assert.deepEqual(await cards(page), ['template:default/library']);
  await Promise.all([
    page.waitForURL(`${base}/create/templates/default/library`),
    page.click('[data-testid=choose-template]'),
  ]);

  // Tags are written separated by commas; a bad one is refused on the server, next to them.
  await page.fill('#field-name', 'e2e-ledger-kit');
  await page.fill('#field-description', 'Double-entry helpers.');
  await page.selectOption('#field-owner', 'group:default/checkout');
  await page.fill('#field-tags', 'money, Rust Tools');
  await Promise.all([page.waitForURL(/from=0/), page.click('[data-testid=wizard-next]')]);
  assert.match(await page.textContent('#field-tags-error'), /"Rust Tools" is not a valid tag/);
  await page.fill('#field-tags', 'money, rust');
  await Promise.all([page.waitForURL(/from=0/), page.click('[data-testid=wizard-next]')]);
  await page.waitForSelector('[data-testid=dry-run]');
  assert.match(await page.textContent('[data-testid=review-answers]'), /Tags\s*money, rust/);

  // Back to the page with every answer kept, and forward again.
  await Promise.all([page.waitForURL(/from=review/), page.click('[data-testid=review-back] button')]);
  assert.equal(await page.inputValue('#field-name'), 'e2e-ledger-kit');
  assert.equal(await page.inputValue('#field-tags'), 'money, rust');
  await Promise.all([page.waitForURL(/from=0/), page.click('[data-testid=wizard-next]')]);

  // The file tree: each file's text opens in a <details>, which needs no script.
  const lib = page.locator('[data-testid=file][data-path="src/lib.rs"]');
  assert.equal(await lib.count(), 1);
  await page.click('[data-testid=file][data-path="README.md"] summary');
  assert.match(await page.textContent('[data-testid=file][data-path="README.md"] pre'), /e2e-ledger-kit/);
  await page.screenshot({ path: `${shots}/nojs-create-review.png`, fullPage: true });

  await Promise.all([page.waitForURL(/\/tasks\/[0-9a-f-]+$/), page.click('[data-testid=create-submit]')]);
  const deadline = Date.now() + 60_000;
  let status = '';
  while (Date.now() < deadline) {
    status = await page.textContent('[data-testid=task-status]');
    if (status === 'completed' || status === 'failed') break;
    await page.waitForTimeout(500);
  }
  assert.equal(status, 'completed', 'the page refreshed itself until the run ended');
  await Promise.all([
    page.waitForURL(`${base}/catalog/default/component/e2e-ledger-kit`),
    page.click('[data-testid=task-output] a >> text=Open in the catalog'),
  ]);
  assert.match(await page.textContent('[data-testid=owner-box]'), /Checkout/);
  await context.close();
});

// A small template as a platform admin would paste it: a wrong action name first.
const authored = (action) => `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-authored
spec:
  parameters:
    - title: Details
      required: [name]
      properties:
        name: { type: string, title: Name }
        token: { type: string, title: Token, ui:field: Secret }
  steps:
    - id: fetch
      name: Fetch
      action: ${action}
      input:
        url: ./skeleton
        values:
          name: \${{ parameters.name }}
  output:
    text:
      - title: Made
        content: Rendered \${{ parameters.name }}
`;

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? 'with JavaScript' : 'without JavaScript';
  test(`template authoring ${mode}: the problem named, fixed, dry-run; secrets never shown`, async () => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    await signIn(page, 'user:default/linus');
    await page.goto(`${base}/create`);
    await Promise.all([page.waitForURL(`${base}/create/author`), page.click('[data-testid=author-link]')]);

    await page.fill('#author-yaml', authored('fetch:templat'));
    await page.fill('#author-fp-0', 'skeleton/README.md');
    await page.fill('#author-fc-0', '# ${{ values.name }}\n');
    await Promise.all([page.waitForURL(/go=check/), page.click('[data-testid=author-check]')]);
    const problems = await page.textContent('[data-testid=template-problems]');
    assert.match(problems, /spec\.steps\[0\]\.action: step "fetch" uses the action "fetch:templat"/);
    assert.equal(await page.locator('[data-testid=author-wizard]').count(), 0);
    // What was pasted stays in the form.
    assert.equal(await page.inputValue('#author-fp-0'), 'skeleton/README.md');

    await page.fill('#author-yaml', authored('fetch:template'));
    await Promise.all([page.waitForURL(/fetch%3Atemplate%0D/), page.click('[data-testid=author-check]')]);
    assert.equal(await page.locator('[data-testid=template-problems]').count(), 0);
    assert.equal(await page.locator('#field-name').count(), 1, 'the wizard asks for the name');
    assert.equal(await page.locator('[name="p.token"]').count(), 0, 'the secret is not asked for');
    assert.match(await page.textContent('[data-testid=author-masked]'), /token/);

    await page.fill('#field-name', 'e2e-authored-svc');
    await Promise.all([page.waitForURL(/go=dry-run/), page.click('[data-testid=author-dry-run]')]);
    const readme = page.locator('[data-testid=file][data-path="README.md"]');
    assert.equal(await readme.count(), 1);
    await page.click('[data-testid=file][data-path="README.md"] summary');
    assert.match(await page.textContent('[data-testid=file][data-path="README.md"] pre'), /# e2e-authored-svc/);
    assert.match(await page.textContent('[data-testid=dry-run-log]'), /Beginning step Fetch/);
    assert.match(await page.textContent('[data-testid=dry-run-output]'), /Rendered e2e-authored-svc/);
    assert.equal(await page.inputValue('#field-name'), 'e2e-authored-svc', 'the answers stay');
    await page.screenshot({ path: `${shots}/author-dry-run${javaScriptEnabled ? '' : '-nojs'}.png`, fullPage: true });

    // A secret typed into the address anyway is neither used nor shown.
    await page.goto(`${page.url()}&p.token=hunter2-secret`);
    await page.waitForSelector('[data-testid=dry-run-output]');
    assert.doesNotMatch(await page.content(), /hunter2-secret/);
    // Nothing was registered.
    const catalog = await page.goto(`${base}/catalog/default/template/e2e-authored`);
    assert.equal(catalog.status(), 404);
    await context.close();
  });
}

test('template authoring is for platform admins: a developer gets 403 and no link', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'user:default/ada');
  await page.goto(`${base}/create`);
  assert.equal(await page.locator('[data-testid=author-link]').count(), 0);
  const response = await page.goto(`${base}/create/author`);
  assert.equal(response.status(), 403);
  assert.match(await page.textContent('main'), /for platform admins/);
  await context.close();
});
