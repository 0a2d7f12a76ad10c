// Browser suite for the portal, in Debian's Chromium driven by playwright-core.
//
// It proves three things: the pages work and link together for a signed-in user; hydration
// happened (the owned-entities filter reacts to typing, which only the WebAssembly build can do);
// and the same journey works with JavaScript disabled (forms post, the server renders results).
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
  assert.equal(await page.textContent('[data-testid=signed-in-user]'), 'Ada Lovelace');
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
  for (const [label, path, heading] of [['Catalog', '/catalog', 'Catalog'], ['Tasks', '/tasks', 'Tasks'], ['Metrics', '/delivery', 'Metrics']]) {
    await page.click(`nav.app-nav >> text=${label}`);
    await page.waitForURL(`${base}${path}`);
    await page.waitForSelector('[data-testid=not-yet-available]');
    assert.equal(await page.textContent('main h1'), heading);
    assert.equal(await page.getAttribute(`nav.app-nav a[href="${path}"]`, 'aria-current'), 'page');
  }
  await page.screenshot({ path: `${shots}/catalog-not-yet.png` });
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
  assert.equal(await page.textContent('[data-testid=signed-in-user]'), 'Grace Hopper');
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

  await page.click('nav.app-nav >> text=Platform');
  await page.waitForURL(`${base}/platform`);
  assert.match(await page.textContent('[data-testid=not-yet-available]'), /Not yet available/);

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
