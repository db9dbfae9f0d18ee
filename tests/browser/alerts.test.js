// Issue 12 §4 in the dashboard: the Alerts page adds a webhook (its HMAC secret shown once, never
// listed again), refuses a metadata address with the reason, adds an alert rule, queues a test
// delivery from the Test button and shows it in the delivery log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login } from './harness.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('webhooks, rules, the test button and the delivery log', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);
  await page.getByRole('link', { name: 'Alerts' }).click();
  await page.getByRole('heading', { name: 'Alerts', exact: true }).waitFor();

  // A metadata address is refused, with the reason on screen.
  await page.getByLabel('Name', { exact: true }).first().fill('evil');
  await page.getByLabel('URL', { exact: true }).fill('https://169.254.169.254/latest/meta-data/');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  // Next to the form (its alert region or the URL field), not only in a passing toast.
  await page.locator('form .form-alert, form .field-error', { hasText: 'refused' }).first().waitFor();

  // A public address (an IP literal: no DNS needed) with an HMAC secret, shown once.
  await page.getByLabel('Name', { exact: true }).first().fill('pager');
  await page.getByLabel('URL', { exact: true }).fill('https://93.184.215.14/signet');
  await page.getByLabel('Also sign with X-SikkerKey-Signature (HMAC)').check();
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const secret = (await page.locator('#webhook-result code').textContent()).trim();
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);
  const row = page.locator('tr', { hasText: 'pager' });
  await row.waitFor();

  // A rule on canary reads, sent to it.
  await page.locator('#rule-name').fill('canaries');
  await page.locator('#rule-severity').selectOption('critical');
  await page.locator('#rule-actions').fill('canary_triggered');
  await page.getByRole('button', { name: 'Add rule' }).click();
  await page.locator('tr', { hasText: 'canary_triggered' }).waitFor();

  // The Test button queues a delivery that the log shows.
  await page.locator('tr', { hasText: 'pager' }).getByRole('button', { name: 'Test pager' }).click();
  await page.locator('tr', { hasText: 'test' }).filter({ hasText: 'pager' }).first().waitFor();

  // The secret appears nowhere once the page is shown again.
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
  await page.goto(`${server.url}/#/alerts`);
  await page.locator('tr', { hasText: 'pager' }).first().waitFor();
  assert.ok(!(await page.content()).includes(secret), 'the HMAC secret was shown again');
  assert.ok(!server.log.includes(secret), 'the HMAC secret reached the server log');
  assert.deepEqual(page.problems, []);
});
