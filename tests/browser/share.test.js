// Issue 11 §6: a one-time share link made on the dashboard's Share page opens once, on the plain
// page, in a browser with no session: the value with the right passphrase, then gone. A second
// link opened with a wrong passphrase is destroyed, and the right passphrase then fails too.

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

const PASSPHRASE = 'tell-no-one-1234';

async function createLink(page, value) {
  await page.goto(`${server.url}/#/share`);
  await page.getByRole('heading', { name: 'Share', exact: true }).waitFor();
  await page.getByLabel('Value', { exact: true }).fill(value);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.getByLabel('Lifetime').selectOption('3600');
  await page.getByRole('button', { name: 'Create link' }).click();
  const code = page.locator('#share-result code');
  await code.waitFor();
  const url = await code.textContent();
  assert.match(url, new RegExp(`^${server.url}/#/s/shr_[A-Za-z0-9]{16}\\.[A-Za-z0-9_-]{43}$`));
  return url;
}

/** Opens `url` in a fresh browser context (no cookie, no session) with `passphrase`. */
async function openLink(url, passphrase) {
  const reader = await newPage(browser);
  await reader.goto(url);
  await reader.getByText('You have one attempt').waitFor();
  await reader.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  await reader.getByRole('button', { name: 'Show the value' }).click();
  const shown = reader.locator('#share-open-value, #share-open-gone');
  await shown.first().waitFor();
  const value = await reader.locator('#share-open-value').count() ? await reader.locator('#share-open-value').textContent() : null;
  // The secret part is gone from the address bar once the attempt is made.
  assert.ok(!reader.url().includes('.'), `address bar still holds the secret: ${reader.url()}`);
  assert.deepEqual(reader.problems, []);
  assert.equal((await reader.context().cookies()).length, 0, 'the reader never signed in');
  await reader.context().close();
  return value;
}

async function statusOf(page, url) {
  const id = url.split('/#/s/')[1].split('.')[0];
  // Through the overview, fully shown, so that the row read below is from a fresh Share page
  // and not the one left on screen before.
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
  await page.goto(`${server.url}/#/share`);
  const row = page.locator('tr', { hasText: id });
  await row.waitFor();
  return (await row.locator('.badge').textContent()).trim();
}

test('a share link opens once without signing in; a wrong passphrase destroys it', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);
  await page.getByRole('link', { name: 'Share' }).waitFor();

  const value = 'deploy key: 7c1f-share-value\nsecond line';
  const url = await createLink(page, value);
  assert.equal(await statusOf(page, url), 'pending');
  assert.equal(await openLink(url, PASSPHRASE), value);
  assert.equal(await statusOf(page, url), 'viewed');
  assert.equal(await openLink(url, PASSPHRASE), null, 'a second opening shows nothing');

  const second = await createLink(page, 'another value');
  assert.equal(await openLink(second, 'not the passphrase'), null);
  assert.equal(await statusOf(page, second), 'destroyed');
  assert.equal(await openLink(second, PASSPHRASE), null, 'the right passphrase after a wrong one fails');

  // Nothing secret reached the server's log: the fragment never travels.
  const secretPart = url.split('.').pop();
  assert.ok(!server.log.includes(secretPart), 'secret part in the server log');
  assert.ok(!server.log.includes('7c1f-share-value'), 'value in the server log');
  assert.deepEqual(page.problems, []);
});
