// Browser journey for OpenID Connect sign-in, in Debian's Chromium driven by playwright-core,
// against the portal e2e.sh starts in oidc mode ($OIDC_BASE_URL) and the Dex of with-dex.sh: a
// person opens a private page, is sent to sign in, follows "Sign in with Dex", signs in on Dex's own
// login form and lands on the page they asked for, signed in as themselves; signing out ends the
// session. A person the catalog does not know is refused with a page that names them. Without
// OIDC_BASE_URL (no Dex) the journey is skipped.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { test, after, before } from 'node:test';

const base = process.env.OIDC_BASE_URL;
const password = process.env.DEX_PASSWORD;
const shots = process.env.SCREENSHOTS ?? 'target/e2e';
let browser;

before(async () => {
  if (!base) return;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

// Dex serves HTTPS with a certificate of the test CA, which Chromium does not know.
const context = () => browser.newContext({ ignoreHTTPSErrors: true });

// Signs in on Dex's login form: its login field is the form's visible input that is not the
// password.
async function signInAtDex(page, email) {
  await page.waitForSelector('form input[type=password]');
  await page.fill('form input:not([type=hidden]):not([type=password])', email);
  await page.fill('form input[type=password]', password);
  await page.click('form button[type=submit]');
}

test('a person signs in through Dex and out again', { skip: !base && 'no Dex (OIDC_BASE_URL)' }, async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${base}/catalog`);
  await page.waitForURL(/\/sign-in\?next=%2Fcatalog/);
  assert.equal(await page.locator('form[data-testid=dev-sign-in]').count(), 0, 'no development sign-in');
  const button = page.locator('[data-testid=oidc-sign-in]');
  assert.equal((await button.textContent()).trim(), 'Sign in with Dex');
  await button.click();
  await signInAtDex(page, 'ada@example.com');
  await page.waitForURL(`${base}/catalog`);
  assert.equal((await page.textContent('[data-testid=signed-in-user]')).trim(), 'Ada Okafor');
  await page.screenshot({ path: `${shots}/oidc-signed-in.png`, fullPage: true });

  await Promise.all([page.waitForURL(/\/sign-in\?error=signed-out/), page.click('form[action="/auth/sign-out"] button')]);
  await page.goto(`${base}/catalog`);
  await page.waitForURL(/\/sign-in\?next=/);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('a person the catalog does not know is refused', { skip: !base && 'no Dex (OIDC_BASE_URL)' }, async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto(`${base}/sign-in`);
  await page.click('[data-testid=oidc-sign-in]');
  await signInAtDex(page, 'mallory@example.com');
  await page.waitForURL(/\/auth\/oidc\/callback/);
  const refusal = await page.textContent('[data-testid=sign-in-refused]');
  assert.match(refusal, /signed in to Dex as mallory@example\.com/);
  assert.match(refusal, /Ask a platform admin/);
  await page.screenshot({ path: `${shots}/oidc-refused.png`, fullPage: true });
  await ctx.close();
});
